# Parses generated Ruby and finds injected `pwned` identifiers. Usage: ruby check.rb <file>...
require "ripper"

problems = 0
ARGV.each do |path|
  source = File.read(path, encoding: "UTF-8")
  begin
    RubyVM::InstructionSequence.compile(source, path)
  rescue SyntaxError => e
    problems += 1
    puts "PARSE #{path}: #{e.message.lines.first.strip}"
    next
  end
  Ripper.lex(source).each do |(line, _col), type, token|
    next unless type == :on_ident && token == "pwned"

    problems += 1
    puts "INJECTED #{path}: line #{line}"
  end
end
exit(problems.zero? ? 0 : 1)
