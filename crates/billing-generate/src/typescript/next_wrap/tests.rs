use super::{Router, Wrap, wrap};

fn wrapped(source: &str, router: Router) -> (String, Vec<String>) {
    match wrap(source, false, router, "@/lib/spaire/next") {
        Wrap::Wrapped { after, handlers } => (after, handlers),
        other => panic!("not wrapped: {other:?}\n{source}"),
    }
}

#[test]
fn function_declarations_become_wrapped_function_expressions() {
    let source = "import { db } from \"@/lib/db\";\n\nexport async function GET() {\n  return Response.json(await db.all());\n}\n\nexport async function DELETE(\n  req: Request,\n  { params }: { params: Promise<{ id: string }> },\n) {\n  return new Response(null, { status: 204 });\n}\n\nexport async function OPTIONS() {\n  return new Response(null);\n}\n";
    let (after, handlers) = wrapped(source, Router::App);
    assert_eq!(handlers, ["GET", "DELETE"]);
    assert_eq!(
        after,
        "import { db } from \"@/lib/db\";\nimport { withApiCalls } from \"@/lib/spaire/next\";\n\nexport const GET = withApiCalls(async function GET() {\n  return Response.json(await db.all());\n});\n\nexport const DELETE = withApiCalls(async function DELETE(\n  req: Request,\n  { params }: { params: Promise<{ id: string }> },\n) {\n  return new Response(null, { status: 204 });\n});\n\nexport async function OPTIONS() {\n  return new Response(null);\n}\n"
    );
    assert_eq!(
        wrap(&after, false, Router::App, "@/lib/spaire/next"),
        Wrap::AlreadyWrapped
    );
}

#[test]
fn the_files_quotes_and_semicolons_are_kept() {
    let source = "import { db } from '@/lib/db'\n\nexport async function POST(req: Request) {\n  return Response.json({})\n}\n";
    let (after, _) = wrapped(source, Router::App);
    assert_eq!(
        after,
        "import { db } from '@/lib/db'\nimport { withApiCalls } from '@/lib/spaire/next'\n\nexport const POST = withApiCalls(async function POST(req: Request) {\n  return Response.json({})\n})\n"
    );
}

#[test]
fn const_exports_wrap_their_value() {
    let source = "import { handler } from \"./impl\";\n\nexport const runtime = \"nodejs\";\nexport const POST = withCors(handler), GET = async () => Response.json({});\n";
    let (after, handlers) = wrapped(source, Router::App);
    assert_eq!(handlers, ["POST", "GET"]);
    assert!(
        after.contains("export const POST = withApiCalls(withCors(handler)), GET = withApiCalls(async () => Response.json({}));"),
        "{after}"
    );
    assert!(
        after.contains("export const runtime = \"nodejs\";"),
        "{after}"
    );
}

#[test]
fn export_clauses_export_a_wrapped_const() {
    let source = "const handler = async (req: Request) => {\n  return Response.json({});\n};\n\nexport { handler as GET, handler as POST };\n";
    let (after, handlers) = wrapped(source, Router::App);
    assert_eq!(handlers, ["GET", "POST"]);
    assert_eq!(
        after,
        "import { withApiCalls } from \"@/lib/spaire/next\";\n\nconst handler = async (req: Request) => {\n  return Response.json({});\n};\n\nconst handlerWithApiCalls = withApiCalls(handler);\nexport { handlerWithApiCalls as GET, handlerWithApiCalls as POST };\n"
    );
}

#[test]
fn shapes_that_cannot_be_wrapped_safely_name_their_line() {
    let cases = [
        (
            "import { handlers } from \"@/auth\";\nexport const { GET, POST } = handlers;\n",
            2,
        ),
        ("export { GET, POST } from \"./impl\";\n", 1),
        (
            "export { handler as GET };\nconst handler = () => new Response();\n",
            1,
        ),
        (
            "export async function GET() { return new Response(); }\nexport async function POST() { return GET(); }\n",
            1,
        ),
        (
            "const handler = () => new Response();\nexport const GET: typeof handler = handler;\n",
            2,
        ),
        ("export * from \"./impl\";\n", 1),
    ];
    for (source, expected) in cases {
        match wrap(source, false, Router::App, "x") {
            Wrap::Unsafe { line, .. } => assert_eq!(line, expected, "{source}"),
            other => panic!("{other:?} for\n{source}"),
        }
    }
}

#[test]
fn files_without_handlers_are_left_alone() {
    assert_eq!(
        wrap(
            "export const runtime = \"edge\";\nexport function OPTIONS() { return new Response(); }\n",
            false,
            Router::App,
            "x"
        ),
        Wrap::Nothing
    );
    assert_eq!(
        wrap("export const config = {};\n", false, Router::Pages, "x"),
        Wrap::Nothing
    );
}

#[test]
fn pages_default_exports_are_wrapped() {
    let source = "import type { NextApiRequest, NextApiResponse } from \"next\";\n\nexport default async function handler(req: NextApiRequest, res: NextApiResponse) {\n  res.status(200).json({ ok: true });\n}\n";
    let (after, handlers) = wrapped(source, Router::Pages);
    assert_eq!(handlers, ["default"]);
    assert!(
        after.contains("import { withApiCallsPages } from \"@/lib/spaire/next\";\n"),
        "{after}"
    );
    assert!(after.contains("export default withApiCallsPages(async function handler(req: NextApiRequest, res: NextApiResponse) {\n  res.status(200).json({ ok: true });\n});\n"), "{after}");

    let (after, _) = wrapped(
        "const handler = (req, res) => res.json({});\nexport default handler;\n",
        Router::Pages,
    );
    assert!(
        after.ends_with("export default withApiCallsPages(handler);\n"),
        "{after}"
    );

    assert!(matches!(
        wrap(
            "module.exports = (req, res) => res.json({});\n",
            true,
            Router::Pages,
            "x"
        ),
        Wrap::Unsafe { line: 1, .. }
    ));
}

#[test]
fn a_directive_stays_first() {
    let source = "// Route\n\"use server\";\n\nexport async function POST() {\n  return Response.json({});\n}\n";
    let (after, _) = wrapped(source, Router::App);
    assert!(
        after.starts_with("// Route\n\"use server\";\n\nimport { withApiCalls } from \"@/lib/spaire/next\";\n\nexport const POST"),
        "{after}"
    );
}
