//! Rails generation against the fixture (syntax and runtime are proven in `spaire-billing`'s
//! `codegen_other` tests).

use std::path::Path;

use billing_detect::{FrameworkId, Language};

use crate::Target;
use crate::go::tests::{dump, plan, profile};

#[test]
fn rails_gets_lib_initializer_controller_and_one_route() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/codegen/ruby/rails");
    let profile = profile(&root, Language::Ruby, &[FrameworkId::Rails]);
    let plan = plan(&["llm-tokens-split", "api-calls", "storage", "compute-time"]);
    let target = Target {
        root: &root,
        profile: &profile,
        package: &profile.packages[0],
        plan: &plan,
        without_sdk: false,
    };
    let changes = super::generate(&target).unwrap();
    dump("rails", &changes);
    let routes = changes
        .files
        .iter()
        .find(|f| f.path == "config/routes.rb")
        .unwrap();
    assert_eq!(
        routes.after,
        "Rails.application.routes.draw do\n  post \"/api/webhooks/spaire\", to: \"spaire_webhooks#create\"\n  get \"up\" => \"rails/health#show\", as: :rails_health_check\nend\n"
    );
    let initializer = changes
        .files
        .iter()
        .find(|f| f.path == "config/initializers/spaire_billing.rb")
        .unwrap();
    assert!(
        initializer
            .after
            .contains("config.middleware.use SpaireBilling::ApiCallMiddleware")
    );
}
