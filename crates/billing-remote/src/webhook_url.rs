//! A webhook endpoint is registered only for a URL Spaire can actually deliver to.

use billing_plan::Environment;

/// `Ok(())` when `url` may be registered in `environment`; otherwise why not.
///
/// Spaire requires https and delivers from the internet, so a localhost or private-network
/// URL would register fine and then fail every delivery (and auto-disable after 10). The
/// emulator runs on this machine and delivers to plain-http localhost URLs too.
pub fn check(url: &str, environment: Environment) -> Result<(), String> {
    let parsed = reqwest_free_parse(url).ok_or_else(|| format!("`{url}` is not a valid URL"))?;
    if environment == Environment::Local {
        return if parsed.0 == "https" || parsed.0 == "http" {
            Ok(())
        } else {
            Err(format!("`{url}` must be an http(s) URL"))
        };
    }
    if parsed.0 != "https" {
        return Err(format!(
            "`{url}` is not https; Spaire only delivers webhooks to https URLs"
        ));
    }
    let host = parsed.1.to_ascii_lowercase();
    let private = host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.ends_with(".internal")
        || host.ends_with(".lan")
        || !host.contains('.') && !host.contains(':')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| match ip {
                std::net::IpAddr::V4(v4) => {
                    v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
                }
                std::net::IpAddr::V6(v6) => {
                    v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
                }
            });
    if private {
        return Err(format!(
            "`{url}` is not reachable from the internet, so Spaire cannot deliver to it; use a public \
             https URL (or a tunnel such as ngrok) and run `spaire-billing apply` again"
        ));
    }
    Ok(())
}

/// (scheme, host) without pulling a URL crate into this module's API.
fn reqwest_free_parse(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host_port.split(':').next()?.to_owned()
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_urls_are_registered_outside_the_emulator() {
        let ok = |u| check(u, Environment::Sandbox).is_ok();
        assert!(ok("https://example.com/api/webhook/spaire"));
        assert!(!ok("http://example.com/hook"));
        assert!(!ok("https://localhost:3000/hook"));
        assert!(!ok("https://127.0.0.1/hook"));
        assert!(!ok("https://192.168.1.10/hook"));
        assert!(!ok("https://myapp.local/hook"));
        assert!(!ok("https://intranet/hook"));
        assert!(!ok("https://[::1]/hook"));
        assert!(!ok("not a url"));
        assert!(check("http://127.0.0.1:3000/hook", Environment::Local).is_ok());
    }
}
