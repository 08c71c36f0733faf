//! The `cast-codegen` command line. `main.rs` only calls [`main`].

use std::{
    io::{IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use cast_runtime::{
    Secret,
    sealed::{self, MasterKey, PURPOSE_UPSTREAM, SealedHeader},
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use zeroize::Zeroizing;

use crate::{AuthScheme, Diagnostics, FollowRedirects, Generator, Settings, Source, write};

/// Turn an OpenAPI description into a typed Rust MCP server crate.
#[derive(Debug, Parser)]
#[command(name = "cast-codegen", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a server crate from SPEC (a file or an http(s) URL; JSON or YAML).
    Generate {
        #[command(flatten)]
        spec: SpecArgs,
        /// Folder to write the crate to [default: ./NAME].
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Depend on cast-runtime at this folder instead of the released version
        /// (the default when cast-codegen runs from a Cast checkout).
        #[arg(long, value_name = "DIR")]
        runtime_path: Option<PathBuf>,
        /// Overwrite files in the output folder that cast-codegen did not write.
        #[arg(long)]
        force: bool,
        /// Fail, writing nothing, when the tools would differ from the folder's
        /// `tools.lock` (added, removed, renamed, changed, newly destructive), for CI.
        #[arg(long)]
        locked: bool,
    },
    /// Print every operation as a tool: name, method, path, on or off, and why.
    Tools {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Report problems in SPEC without writing anything.
    Check {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Seal and manage upstream credentials.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Print paste-ready MCP client configuration for the server generated in DIR (its
    /// release binary's path, your files, never a key or a token).
    Connect {
        /// The generated crate's folder.
        dir: PathBuf,
        /// Only this client's snippets: claude-desktop, claude-code, cursor, vscode,
        /// windsurf, codex, gemini or mcp-remote.
        #[arg(long, value_name = "NAME")]
        client: Option<String>,
        /// The HTTP endpoint clients reach [default: http://127.0.0.1:8080/mcp].
        #[arg(long)]
        url: Option<String>,
        /// The sealed upstream credential the server reads.
        #[arg(long, env = "CAST_KEY_FILE", value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// How the endpoint knows callers [default: token unless the URL is loopback].
        #[arg(long, value_name = "token|oauth|none", value_parser = cast_connect::InboundAuth::parse)]
        auth: Option<cast_connect::InboundAuth>,
    },
}

#[derive(Debug, Args)]
struct SpecArgs {
    /// The OpenAPI document: a path or an http(s) URL.
    spec: String,
    /// Settings file (default: cast.toml in the output folder, when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Crate and binary name [default: from the spec title].
    #[arg(long)]
    name: Option<String>,
    /// Upstream base URL baked in as the default [default: the spec's first server].
    #[arg(long)]
    base_url: Option<String>,
    /// Upstream redirects the server follows: none, or same-origin (at most 5, only to the
    /// upstream's own scheme, host and port) [default: none].
    #[arg(long, value_enum)]
    follow_redirects: Option<RedirectsArg>,
    /// Upstream auth scheme [default: from the spec's securitySchemes].
    #[arg(long, value_enum)]
    auth: Option<AuthArg>,
    /// Header that carries the key with `--auth api-key`.
    #[arg(long, value_name = "NAME")]
    auth_header: Option<String>,
    /// Turn on a tool (by tool name or operationId), destructive ones included. Repeatable.
    #[arg(long, value_name = "NAME")]
    enable: Vec<String>,
    /// Turn off a tool. Repeatable.
    #[arg(long, value_name = "NAME")]
    disable: Vec<String>,
    /// Turn on only these tools.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    only: Vec<String>,
    /// Turn on every operation, destructive and deprecated ones included.
    #[arg(long)]
    enable_all: bool,
    /// Serve operations the spec marks deprecated (off by default).
    #[arg(long)]
    include_deprecated: bool,
    /// Only operations with this tag. Repeatable.
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
    /// Leave out operations with this tag. Repeatable.
    #[arg(long, value_name = "TAG")]
    exclude_tag: Vec<String>,
    /// Only operations whose path matches this glob (`/repos/**`). Repeatable.
    #[arg(long, value_name = "GLOB")]
    path: Vec<String>,
    /// Leave out operations whose path matches this glob. Repeatable.
    #[arg(long, value_name = "GLOB")]
    exclude_path: Vec<String>,
    /// Only these HTTP methods (`--method get,post`).
    #[arg(long, value_name = "METHOD,...", value_delimiter = ',')]
    method: Vec<String>,
    /// The longest tool name a client's model sees, `mcp__<name>__` prefix included [default: 64].
    #[arg(long, value_name = "N")]
    max_name_length: Option<usize>,
    /// Fail on warnings too (for CI).
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RedirectsArg {
    None,
    SameOrigin,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AuthArg {
    ApiKey,
    Bearer,
    Basic,
    None,
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Print a fresh master key (base64, 32 bytes), or write it to a file with mode 0600.
    NewMasterKey {
        /// Write the key to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read a credential from standard input and seal it under the master key
    /// (CAST_MASTER_KEY or CAST_MASTER_KEY_FILE). Never pass secrets as arguments.
    Seal {
        /// Where to write the sealed file (atomically: replacing it rotates the key of a running server).
        #[arg(long)]
        out: PathBuf,
        /// The header the credential is sent in (`Authorization` for bearer tokens).
        #[arg(long, default_value = "X-Api-Key")]
        header: String,
    },
    /// Show what a sealed file is for, when it was sealed, and a fingerprint of its value (never the value).
    Inspect {
        /// The sealed file.
        file: PathBuf,
    },
    /// Re-encrypt sealed files under a new master key (master-key rotation). The current key
    /// comes from CAST_MASTER_KEY / CAST_MASTER_KEY_FILE; every file is opened before any is written.
    Rekey {
        /// The sealed files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// File holding the new master key (base64), e.g. from `secret new-master-key --out`.
        #[arg(long, value_name = "FILE")]
        new_master_key_file: PathBuf,
    },
}

/// `connect DIR`: the crate's name from its `Cargo.toml`, its release binary, and
/// whether it takes an upstream credential from its `src/main.rs` (an empty scheme
/// table is written as `schemes: &[],`).
fn connect(
    dir: &Path,
    client: Option<&str>,
    url: Option<&str>,
    key_file: Option<&Path>,
    auth: Option<cast_connect::InboundAuth>,
) -> Result<(), String> {
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file)).map_err(|e| {
            format!(
                "{}: {e} (is it a folder cast-codegen generated?)",
                dir.join(file).display()
            )
        })
    };
    let manifest: toml::Table =
        toml::from_str(&read("Cargo.toml")?).map_err(|e| format!("{}: {e}", dir.join("Cargo.toml").display()))?;
    let name = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| format!("{}: no [package] name", dir.join("Cargo.toml").display()))?
        .to_owned();
    let takes_credential = !read("src/main.rs")?.contains("schemes: &[],");
    let binary = dir.join("target/release").join(&name);
    let target = cast_connect::Target::local(cast_connect::Local {
        name: &name,
        command: Some(&binary),
        key_file,
        takes_credential,
        url,
        auth,
        tokens_file_given: false,
    });
    target.print(client)
}

/// Parses the process arguments and runs.
pub fn main() -> ExitCode {
    run(Cli::parse())
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Generate {
            spec,
            out,
            runtime_path,
            force,
            locked,
        } => generate(spec, out, runtime_path, force, locked),
        Command::Tools { spec } => tools(spec),
        Command::Check { spec } => check(spec),
        Command::Secret(command) => secret(command),
        Command::Connect {
            dir,
            client,
            url,
            key_file,
            auth,
        } => connect(&dir, client.as_deref(), url.as_deref(), key_file.as_deref(), auth),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

impl SpecArgs {
    /// Settings from the config file (or `default_config` when it exists), then flags on top.
    fn settings(&self, default_config: Option<&Path>) -> Result<Settings, String> {
        let config = self.config.as_deref().or(default_config.filter(|p| p.exists()));
        let mut settings = match config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if self.config.is_none() {
                    eprintln!("note: using the settings in {}", path.display());
                }
                Settings::from_toml(&text, &path.display().to_string())?
            }
            None => Settings::default(),
        };
        if let Some(name) = &self.name {
            settings.name = Some(name.clone());
        }
        if let Some(url) = &self.base_url {
            settings.base_url = Some(url.clone());
        }
        if let Some(redirects) = self.follow_redirects {
            settings.follow_redirects = Some(match redirects {
                RedirectsArg::None => FollowRedirects::None,
                RedirectsArg::SameOrigin => FollowRedirects::SameOrigin,
            });
        }
        if let Some(auth) = self.auth {
            settings.auth.scheme = Some(match auth {
                AuthArg::ApiKey => AuthScheme::ApiKey,
                AuthArg::Bearer => AuthScheme::Bearer,
                AuthArg::Basic => AuthScheme::Basic,
                AuthArg::None => AuthScheme::None,
            });
        }
        if let Some(header) = &self.auth_header {
            settings.auth.header = Some(header.clone());
        }
        let tools = &mut settings.tools;
        for (list, flags) in [
            (&mut tools.enable, &self.enable),
            (&mut tools.disable, &self.disable),
            (&mut tools.only, &self.only),
            (&mut tools.include_tags, &self.tag),
            (&mut tools.exclude_tags, &self.exclude_tag),
            (&mut tools.include_paths, &self.path),
            (&mut tools.exclude_paths, &self.exclude_path),
            (&mut tools.methods, &self.method),
        ] {
            for name in flags {
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        }
        tools.enable_all |= self.enable_all;
        tools.include_deprecated |= self.include_deprecated;
        if self.max_name_length.is_some() {
            tools.max_name_length = self.max_name_length;
        }
        Ok(settings)
    }

    fn read(&self) -> Result<(Source, Vec<u8>), String> {
        let source = Source::new(&self.spec);
        let bytes = crate::load::read(&source).map_err(|d| report(&Diagnostics(vec![d])))?;
        Ok((source, bytes))
    }
}

/// Prints diagnostics to stderr; returns the message for the final `error:` line ("" when already said).
fn report(diagnostics: &Diagnostics) -> String {
    eprintln!("{diagnostics}");
    String::new()
}

fn deny(diagnostics: &Diagnostics, deny_warnings: bool) -> Result<(), String> {
    if deny_warnings && diagnostics.counts() != (0, 0) {
        return Err("warnings are denied (--deny-warnings)".to_owned());
    }
    Ok(())
}

/// The runtime of the Cast checkout this binary was built from, if it is still there.
fn checkout_runtime() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.join("cast-runtime");
    dir.join("Cargo.toml").is_file().then_some(dir)
}

fn generate(
    spec: SpecArgs,
    out: Option<PathBuf>,
    runtime_path: Option<PathBuf>,
    force: bool,
    locked: bool,
) -> Result<(), String> {
    let (source, bytes) = spec.read()?;
    let default_config = out.as_ref().map(|o| o.join("cast.toml"));
    let mut settings = spec.settings(default_config.as_deref())?;
    // The name decides the default folder, so lower once without the runtime path first.
    let probe = Generator::new(settings.clone())
        .analyze(&bytes, &source)
        .map_err(|d| report(&d))?
        .0;
    let out = out.unwrap_or_else(|| PathBuf::from(&probe.crate_name));
    if let Some(runtime) = runtime_path.or_else(checkout_runtime) {
        std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        settings.runtime_path = Some(write::relative_path(&out, &runtime));
    }
    let generated = Generator::new(settings)
        .generate(&bytes, &source)
        .map_err(|d| report(&d))?;
    if !generated.diagnostics.is_empty() {
        eprintln!("{}", generated.diagnostics);
    }
    deny(&generated.diagnostics, spec.deny_warnings)?;
    check_lock(&generated.api, &out, locked)?;
    let report = generated.write_to(&out, force)?;
    let enabled = generated.api.enabled_tools().count();
    let total = generated.api.tools.len();
    eprintln!(
        "generated {} in {} ({enabled} of {total} operations as tools; {} files written, {} unchanged{})",
        generated.api.crate_name,
        out.display(),
        report.written.len(),
        report.unchanged,
        if report.removed.is_empty() {
            String::new()
        } else {
            format!(", {} removed", report.removed.len())
        }
    );
    eprint!("{}", crate::cost::Cost::of(&generated.api).summary());
    Ok(())
}

/// Prints how the tools differ from the folder's `tools.lock`; with `locked`, a difference
/// (or no lock to hold to) is an error and nothing is written.
fn check_lock(api: &crate::ir::ApiIr, out: &Path, locked: bool) -> Result<(), String> {
    use crate::lock::{FILE, Lock};
    let path = out.join(FILE);
    let new = Lock::of(api);
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => Lock::parse(&text).map_err(|e| format!("{}: {e}", out.display()))?,
        Err(_) if locked => {
            return Err(format!(
                "--locked: {} has no {FILE} to hold the tools to; generate once without --locked and commit it",
                out.display()
            ));
        }
        Err(_) => return Ok(()),
    };
    let changes = old.changes(&new);
    if changes.is_empty() {
        return Ok(());
    }
    let listed: String = changes.iter().map(|c| format!("  {c}\n")).collect();
    if locked {
        return Err(format!(
            "--locked: the tools would change from {}:\n{listed}review the change, then generate without --locked and commit the new {FILE}",
            path.display()
        ));
    }
    eprint!("the tools change from {}:\n{listed}", path.display());
    Ok(())
}

fn tools(spec: SpecArgs) -> Result<(), String> {
    let (source, bytes) = spec.read()?;
    let settings = spec.settings(None)?;
    let (api, diagnostics) = Generator::new(settings)
        .analyze(&bytes, &source)
        .map_err(|d| report(&d))?;
    if !diagnostics.is_empty() {
        eprintln!("{diagnostics}");
    }
    // `a | b+c`: any one alternative; `+` joins schemes needed together.
    let auth_of = |tool: &crate::ir::ToolIr| {
        if tool.security.is_empty() {
            return "none".to_owned();
        }
        let names = |set: &Vec<usize>| {
            if set.is_empty() {
                "optional".to_owned()
            } else {
                set.iter()
                    .map(|i| api.schemes[*i].name.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            }
        };
        tool.security.iter().map(names).collect::<Vec<_>>().join(" | ")
    };
    // Whether `[credentials]` gives a sealed file that exists for every scheme of some alternative.
    let configured = |index: &usize| {
        let name = &api.schemes[*index].name;
        api.credential_files
            .iter()
            .any(|(scheme, path)| scheme == name && Path::new(path).is_file())
    };
    let auth: Vec<String> = api
        .tools
        .iter()
        .map(|tool| {
            let text = auth_of(tool);
            if tool.security.is_empty() {
                text
            } else if tool.security.iter().any(|set| set.iter().all(configured)) {
                format!("{text} (sealed)")
            } else {
                format!("{text} (no credential)")
            }
        })
        .collect();
    let width = api.tools.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    let path_width = api.tools.iter().map(|t| t.path.len()).max().unwrap_or(4).max(4);
    let auth_width = auth.iter().map(String::len).max().unwrap_or(4).max(4);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "{:<width$}  {:<7}  {:<path_width$}  {:<auth_width$}  {:<3}  WHY",
        "TOOL", "METHOD", "PATH", "AUTH", "ON"
    );
    for (tool, auth) in api.tools.iter().zip(&auth) {
        // `ask`: served, and each call waits for the user's yes.
        let on = match (tool.enabled, tool.confirm) {
            (true, true) => "ask",
            (true, false) => "yes",
            (false, _) => "no",
        };
        let _ = writeln!(
            stdout,
            "{:<width$}  {:<7}  {:<path_width$}  {auth:<auth_width$}  {on:<3}  {}",
            tool.name,
            tool.method.as_str(),
            tool.path,
            tool.why
        );
    }
    let cost = crate::cost::Cost::of(&api);
    let _ = writeln!(stdout);
    for tool in &cost.tools {
        let _ = writeln!(
            stdout,
            "{:<width$}  {:>8} bytes  ~{:>6} tokens",
            tool.name, tool.bytes, tool.tokens
        );
    }
    let _ = write!(stdout, "{}", cost.summary());
    if diagnostics.has_errors() {
        return Err(String::new());
    }
    deny(&diagnostics, spec.deny_warnings)
}

fn check(spec: SpecArgs) -> Result<(), String> {
    let (source, bytes) = spec.read()?;
    let settings = spec.settings(None)?;
    let (api, diagnostics) = Generator::new(settings)
        .analyze(&bytes, &source)
        .map_err(|d| report(&d))?;
    if !diagnostics.is_empty() {
        eprintln!("{diagnostics:#}");
    }
    if diagnostics.has_errors() {
        return Err(String::new());
    }
    let census = api.census();
    eprintln!(
        "{}: {} operations, {} enabled as tools; {} of {} argument fields typed, {} untyped ({:.1}%, C0401 notes), {} any JSON by the spec",
        source.display,
        api.tools.len(),
        api.enabled_tools().count(),
        census.fields - census.untyped - census.any,
        census.fields,
        census.untyped,
        census.untyped_percent(),
        census.any,
    );
    deny(&diagnostics, spec.deny_warnings)
}

/// `2026-11-26 05:02:19 UTC` from seconds since the epoch (civil-from-days, no time zone database).
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (h, m, s) = (seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

fn secret(command: SecretCommand) -> Result<(), String> {
    match command {
        SecretCommand::Rekey {
            files,
            new_master_key_file,
        } => {
            let old = MasterKey::from_env().map_err(|e| e.to_string())?;
            let text = Zeroizing::new(
                std::fs::read_to_string(&new_master_key_file)
                    .map_err(|e| format!("{}: {e}", new_master_key_file.display()))?,
            );
            let new =
                MasterKey::from_base64(&text, &new_master_key_file.display().to_string()).map_err(|e| e.to_string())?;
            // Open everything first: a wrong key or a damaged file stops the rotation before any write.
            let mut resealed = Vec::with_capacity(files.len());
            for file in &files {
                let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
                let (header, secret) = sealed::open(&old, &bytes, file).map_err(|e| e.to_string())?;
                resealed.push(sealed::seal(&new, &header, &secret).map_err(str::to_owned)?);
            }
            for (file, bytes) in files.iter().zip(resealed) {
                sealed::write_atomic(file, &bytes).map_err(|e| e.to_string())?;
            }
            eprintln!(
                "re-encrypted {} sealed file(s) under the new master key; point CAST_MASTER_KEY_FILE at it",
                files.len()
            );
            Ok(())
        }
        SecretCommand::NewMasterKey { out } => {
            let key = MasterKey::generate().to_base64();
            match out {
                Some(path) => {
                    let mut text = Zeroizing::new(key.to_string());
                    text.push('\n');
                    sealed::write_atomic(&path, text.as_bytes()).map_err(|e| e.to_string())?;
                    eprintln!(
                        "wrote a new master key to {} (mode 0600); point CAST_MASTER_KEY_FILE at it",
                        path.display()
                    );
                }
                None => println!("{}", *key),
            }
            Ok(())
        }
        SecretCommand::Seal { out, header } => {
            sealed::check_label(&header).map_err(|why| format!("--header `{header}` {why}"))?;
            let master = MasterKey::from_env().map_err(|e| e.to_string())?;
            let mut input = Zeroizing::new(String::new());
            if std::io::stdin().is_terminal() {
                eprintln!("paste the credential, then press Enter and Ctrl-D:");
            }
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            // A trailing newline from `echo` or a terminal is never part of a key.
            let value = input.trim_end_matches(['\n', '\r']);
            if value.is_empty() {
                return Err("standard input was empty: pipe the credential in, e.g. `printf '%s' \"$KEY\" | cast-codegen secret seal --out key.sealed`".to_owned());
            }
            let secret = Secret::new(value);
            let header_info = SealedHeader {
                purpose: PURPOSE_UPSTREAM.to_owned(),
                label: header,
            };
            let bytes = sealed::seal(&master, &header_info, &secret).map_err(str::to_owned)?;
            sealed::write_atomic(&out, &bytes).map_err(|e| e.to_string())?;
            eprintln!(
                "sealed a credential for the `{}` header into {} (fingerprint {})",
                header_info.label,
                out.display(),
                sealed::fingerprint(&master, &secret)
            );
            Ok(())
        }
        SecretCommand::Inspect { file } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let info = sealed::read_header(&bytes, &file).map_err(|e| e.to_string())?;
            println!("file:        {}", file.display());
            println!("purpose:     {}", info.header.purpose);
            println!("header:      {}", info.header.label);
            match info.created {
                Some(seconds) => println!("created:     {}", utc(seconds)),
                None => println!("created:     unknown (version 1 file)"),
            }
            match MasterKey::from_env() {
                Ok(master) => match sealed::open(&master, &bytes, &file) {
                    Ok((_, secret)) => println!("fingerprint: {}", sealed::fingerprint(&master, &secret)),
                    Err(err) => println!("fingerprint: unavailable ({err})"),
                },
                Err(_) => println!("fingerprint: unavailable (no master key in the environment)"),
            }
            Ok(())
        }
    }
}
