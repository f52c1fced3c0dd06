//! A Spaire account as the tests set it up on the emulator: an API client for it and the
//! monthly product a user would already have (the fixtures' plans name `Pro`).

use billing_api::{Client, ClientConfig, NewPrice, ProductCreate, Secret, ServerUrl};
use billing_emulator::{BackgroundEmulator, EmulatorConfig, RunningEmulator};

/// Runs `future` to completion on a runtime of its own (for tests that are not async).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// An API client of the server at `url` with `token`.
pub fn client(url: &str, token: &str) -> Client {
    Client::new(ClientConfig::new(
        ServerUrl::parse(url).unwrap(),
        Secret::new(token.to_owned()),
    ))
    .unwrap()
}

/// A monthly subscription product `name` with a fixed price of `cents` US cents.
pub fn monthly_product(name: &str, cents: i64) -> ProductCreate {
    ProductCreate {
        name: name.into(),
        recurring_interval: Some("month".into()),
        prices: vec![NewPrice::Fixed {
            price_amount: cents,
            price_currency: "usd".into(),
        }],
        description: None,
    }
}

/// The product the fixtures' plans name: `Pro`, $20 a month.
pub fn pro() -> ProductCreate {
    monthly_product("Pro", 2000)
}

/// An emulator (on a thread of its own) with `config` and the `Pro` product, and a client
/// with its default token.
pub fn background_with_pro(config: EmulatorConfig) -> (BackgroundEmulator, Client) {
    let emulator = billing_emulator::spawn_background(config).unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    block_on(client.create_product(&pro())).unwrap();
    (emulator, client)
}

/// An emulator on the test's own runtime with the `Pro` product, and a client with its
/// default token.
pub async fn serve_with_pro() -> (RunningEmulator, Client) {
    let emulator = billing_emulator::serve(EmulatorConfig::default())
        .await
        .unwrap();
    let client = client(&emulator.base_url(), emulator.token());
    client.create_product(&pro()).await.unwrap();
    (emulator, client)
}
