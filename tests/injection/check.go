// Parses generated Go and finds injected `pwned` identifiers. Usage: go run check.go <file>...
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
)

func main() {
	problems := 0
	for _, path := range os.Args[1:] {
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.AllErrors)
		if err != nil {
			problems++
			fmt.Printf("PARSE %s: %v\n", path, err)
			continue
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && id.Name == "pwned" {
				problems++
				fmt.Printf("INJECTED %s: %v\n", path, fset.Position(id.Pos()))
			}
			return true
		})
	}
	if problems > 0 {
		os.Exit(1)
	}
}
