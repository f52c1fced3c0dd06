//! The framework registry (`billing_vocab::FRAMEWORKS`) as the generators read it: every
//! template an entry names is embedded in the binary, and no framework template is left
//! without an entry.

use billing_vocab::framework::FRAMEWORKS;

use crate::render;

#[test]
fn every_template_a_framework_names_is_embedded() {
    for info in FRAMEWORKS {
        for template in info.templates {
            assert!(
                render::is_embedded(template),
                "framework `{}` names template `{template}`, which is not a file under \
                 crates/billing-generate/templates/",
                info.id
            );
        }
    }
}

#[test]
fn every_javascript_framework_template_belongs_to_a_framework() {
    let claimed = |path: &str| FRAMEWORKS.iter().any(|f| f.templates.contains(&path));
    let framework_templates = render::embedded("typescript", std::convert::identity)
        .into_iter()
        .filter_map(|(name, _)| name.strip_prefix("frameworks/"))
        .map(|name| format!("typescript/frameworks/{name}.j2"))
        .collect::<Vec<_>>();
    assert!(framework_templates.len() >= 10, "{framework_templates:?}");
    for path in framework_templates {
        assert!(
            claimed(&path),
            "`{path}` belongs to no framework: add it to the framework's `templates` in \
             crates/billing-vocab/src/framework.rs"
        );
    }
}
