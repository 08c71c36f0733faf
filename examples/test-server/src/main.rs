//! `cast-test-server --mode apikey --port 3456`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use cast_test_server::{Mode, generate_key, start};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    /// The key in a header (`--header-name`, default X-Api-Key).
    Apikey,
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// HTTP basic: user `cast`, the key as password.
    Basic,
    /// The key in a query parameter (`--param-name`, default api_key).
    Query,
    /// The key in a cookie (`--param-name`, default session).
    Cookie,
    /// Both `X-Api-Key` and `?api_key=` at once.
    Both,
    /// OAuth 2.0 client credentials at /oauth/token (client `cast-client`, the key as secret).
    Oauth,
    /// OAuth 2.0 authorization code with PKCE, dynamic registration and refresh tokens.
    OauthUser,
    /// The same behind an OpenID Connect discovery document.
    Oidc,
    /// No authentication.
    /// An authorization server for inbound tokens: signed JWTs, JWKS at /jwks.json.
    Issuer,
    None,
}

/// The reference upstream API for Cast: items and users behind an API key.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How clients authenticate.
    #[arg(long, value_enum, default_value = "apikey")]
    mode: ModeArg,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 3456)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Use this key instead of a fresh random one.
    #[arg(long, env = "CAST_TEST_KEY")]
    key: Option<String>,
    /// Header carrying the key in apikey mode.
    #[arg(long, default_value = "X-Api-Key")]
    header_name: String,
    /// Lifetime of OAuth access tokens, in seconds.
    #[arg(long, default_value_t = 60)]
    token_lifetime_secs: u64,
    /// Query parameter or cookie carrying the key in query and cookie modes.
    #[arg(long)]
    param_name: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mode = match args.mode {
        ModeArg::Apikey => Mode::ApiKey {
            header: args.header_name.clone(),
        },
        ModeArg::Bearer => Mode::Bearer,
        ModeArg::Basic => Mode::Basic,
        ModeArg::Query => Mode::Query {
            name: args.param_name.clone().unwrap_or_else(|| "api_key".into()),
        },
        ModeArg::Cookie => Mode::Cookie {
            name: args.param_name.clone().unwrap_or_else(|| "session".into()),
        },
        ModeArg::Both => Mode::Both,
        ModeArg::Oauth => Mode::OAuth {
            token_lifetime_secs: args.token_lifetime_secs,
        },
        ModeArg::OauthUser => Mode::OAuthUser {
            token_lifetime_secs: args.token_lifetime_secs,
        },
        ModeArg::Oidc => Mode::Oidc {
            token_lifetime_secs: args.token_lifetime_secs,
        },
        ModeArg::Issuer => Mode::Issuer {
            token_lifetime_secs: args.token_lifetime_secs,
        },
        ModeArg::None => Mode::None,
    };
    let key = args.key.unwrap_or_else(generate_key);
    let server = match start(SocketAddr::new(args.bind, args.port), mode.clone(), key.clone()).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: cannot listen on {}:{}: {err}", args.bind, args.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    // The banner is the contract scripts read: one `key:` and one `listening:` line.
    println!("cast-test-server {}", env!("CARGO_PKG_VERSION"));
    println!("listening: {}", server.base_url());
    println!("spec: {}/openapi.json", server.base_url());
    match mode {
        Mode::ApiKey { header } => println!("auth: header {header}"),
        Mode::Bearer => println!("auth: Authorization: Bearer"),
        Mode::Basic => println!("auth: basic, user cast, the key as password"),
        Mode::Query { name } => println!("auth: query parameter {name}"),
        Mode::Cookie { name } => println!("auth: cookie {name}"),
        Mode::Both => println!("auth: header X-Api-Key and query parameter api_key"),
        Mode::OAuth { .. } => println!("auth: OAuth 2.0 client credentials, client cast-client, the key as secret"),
        Mode::None => println!("auth: none"),
        Mode::Issuer { .. } => println!(
            "auth: none on the API; issues JWT access tokens for inbound auth (client cast-client, the key as secret; JWKS at /jwks.json)"
        ),
        Mode::Oidc { .. } => println!("auth: OpenID Connect (discovery at /.well-known/openid-configuration)"),
        Mode::OAuthUser { .. } => {
            println!(
                "auth: OAuth 2.0 authorization code with PKCE (metadata at /.well-known/oauth-authorization-server)"
            )
        }
    }
    if !matches!(args.mode, ModeArg::None) {
        println!("key: {key}");
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
