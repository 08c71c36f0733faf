//! Security: the schemes tools use, per-operation requirements and credential files.

use super::*;

/// `[credentials]`, checked against the schemes the API uses.
pub(super) fn credential_files(
    security: &Security,
    settings: &Settings,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (scheme, path) in &settings.credentials {
        if security.schemes.iter().any(|s| &s.name == scheme) {
            files.push((scheme.clone(), path.clone()));
        } else {
            let known: Vec<String> = security.schemes.iter().map(|s| format!("`{}`", s.name)).collect();
            diagnostics.push(
                Diagnostic::error(
                    "C0204",
                    "",
                    format!("[credentials] names the scheme `{scheme}`, which this API does not use"),
                )
                .hint(if known.is_empty() {
                    "the API uses no security scheme Cast can apply".to_owned()
                } else {
                    format!("its schemes: {}", known.join(", "))
                }),
            );
        }
    }
    files
}

/// The API's usable security schemes and how requirements map onto them.
#[derive(Debug, Default)]
pub(super) struct Security {
    pub(super) schemes: Vec<SchemeIr>,
    /// Scheme name → index in `schemes`; `None` for schemes Cast cannot apply.
    pub(super) index: HashMap<String, Option<usize>>,
    /// The requirement of operations that state none.
    pub(super) global: Vec<Vec<usize>>,
    /// `[auth]` in cast.toml replaces whatever the spec says.
    pub(super) forced: bool,
    /// Secret custom headers: sent on every request where configured.
    pub(super) always: Vec<usize>,
    /// How many of `schemes` the spec and cast.toml declare; the rest were made for
    /// credentials the spec asks for as arguments.
    pub(super) spec_schemes: usize,
    /// Those credential arguments, for the report.
    pub(super) secret_uses: Vec<SecretUse>,
}

impl Security {
    /// Requirement objects (OR of AND-sets) to scheme indices. Alternatives naming a scheme
    /// Cast cannot apply are dropped; `{}` stays as an empty alternative (auth optional).
    pub(super) fn requirements(&self, list: &Value) -> Vec<Vec<usize>> {
        let Some(list) = list.as_array() else { return Vec::new() };
        list.iter()
            .filter_map(|requirement| {
                requirement
                    .as_object()?
                    .keys()
                    .map(|name| self.index.get(name).copied().flatten())
                    .collect::<Option<Vec<usize>>>()
            })
            .collect()
    }

    pub(super) fn for_operation(&self, operation: &Value) -> Vec<Vec<usize>> {
        match operation.get("security") {
            Some(Value::Array(list)) if list.is_empty() => Vec::new(),
            Some(_) if self.forced => self.global.clone(),
            Some(list) => self.requirements(list),
            None => self.global.clone(),
        }
    }
}

pub(super) fn security(doc: &Value, settings: &Settings, base_url: &str, diagnostics: &mut Diagnostics) -> Security {
    let mut security = spec_security(doc, settings, base_url, diagnostics);
    for header in &settings.auth.secret_headers {
        if header.is_empty()
            || header
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            diagnostics.push(Diagnostic::error(
                "C0205",
                "",
                format!("[auth] secret_headers: `{header}` is not a header name"),
            ));
            continue;
        }
        security.always.push(security.schemes.len());
        security.index.insert(header.clone(), Some(security.schemes.len()));
        security.schemes.push(SchemeIr {
            name: header.clone(),
            kind: SchemeKind::Header(header.clone()),
        });
    }
    security.spec_schemes = security.schemes.len();
    security
}

pub(super) fn spec_security(
    doc: &Value,
    settings: &Settings,
    base_url: &str,
    diagnostics: &mut Diagnostics,
) -> Security {
    if let Some(scheme) = settings.auth.scheme {
        let name = settings.auth.name.clone().or_else(|| settings.auth.header.clone());
        let kind = match scheme {
            AuthScheme::None => {
                return Security {
                    forced: true,
                    ..Security::default()
                };
            }
            AuthScheme::Bearer => SchemeKind::Bearer,
            AuthScheme::Basic => SchemeKind::Basic,
            AuthScheme::ApiKey => {
                let name = name.unwrap_or_else(|| "X-Api-Key".to_owned());
                match settings.auth.location.unwrap_or(KeyLocation::Header) {
                    KeyLocation::Header => SchemeKind::Header(name),
                    KeyLocation::Query => SchemeKind::Query(name),
                    KeyLocation::Cookie => SchemeKind::Cookie(name),
                }
            }
        };
        return Security {
            schemes: vec![SchemeIr {
                name: "default".to_owned(),
                kind,
            }],
            index: HashMap::from([("default".to_owned(), Some(0))]),
            global: vec![vec![0]],
            forced: true,
            ..Security::default()
        };
    }
    // Only schemes that some requirement names matter; keep `securitySchemes` order.
    let mut referenced = HashSet::new();
    let mut scopes: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    let mut note = |list: Option<&Value>| {
        for requirement in list.and_then(Value::as_array).into_iter().flatten() {
            for (name, needed) in requirement.as_object().into_iter().flatten() {
                referenced.insert(name.clone());
                let needed = needed
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned);
                scopes.entry(name.clone()).or_default().extend(needed);
            }
        }
    };
    note(doc.get("security"));
    for item in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|i| i.values()) {
            note(operation.get("security"));
        }
    }
    let mut security = Security::default();
    let declared = doc.pointer("/components/securitySchemes").and_then(Value::as_object);
    for (name, scheme) in declared
        .into_iter()
        .flatten()
        .filter(|(name, _)| referenced.contains(*name))
    {
        let pointer = format!("/components/securitySchemes/{}", pointer_token(name));
        let Some(scheme) = deref(doc, scheme) else { continue };
        let kind_name = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let location = scheme.get("in").and_then(Value::as_str).unwrap_or("");
        let key_name = scheme.get("name").and_then(Value::as_str).map(str::to_owned);
        let http_scheme = scheme
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = match (kind_name, location, http_scheme.as_str(), key_name) {
            ("apiKey", "header", _, Some(n)) => Some(SchemeKind::Header(n)),
            ("apiKey", "query", _, Some(n)) => Some(SchemeKind::Query(n)),
            ("apiKey", "cookie", _, Some(n)) => Some(SchemeKind::Cookie(n)),
            ("http", _, "bearer", _) => Some(SchemeKind::Bearer),
            ("http", _, "basic", _) => Some(SchemeKind::Basic),
            ("openIdConnect", _, _, _) => {
                scheme
                    .get("openIdConnectUrl")
                    .and_then(Value::as_str)
                    .map(|url| SchemeKind::OpenIdConnect {
                        discovery_url: if url.starts_with("http") || !base_url.starts_with("http") {
                            url.to_owned()
                        } else {
                            join_url(&format!("{base_url}/"), url)
                        },
                        scopes: scopes
                            .get(name)
                            .map(|s| s.iter().filter(|s| *s != "openid").cloned().collect())
                            .unwrap_or_default(),
                    })
            }
            ("oauth2", _, _, _) => {
                // Okta and others give endpoint URLs relative to the API's server.
                let absolute = |url: &str| {
                    if url.starts_with("http") || !base_url.starts_with("http") {
                        url.to_owned()
                    } else {
                        join_url(&format!("{base_url}/"), url)
                    }
                };
                let scopes: Vec<String> = scopes
                    .get(name)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                let flows = scheme.get("flows");
                let client = flows
                    .and_then(|f| f.pointer("/clientCredentials/tokenUrl"))
                    .and_then(Value::as_str);
                let user = flows
                    .and_then(|f| f.get("authorizationCode"))
                    .and_then(|flow| Some((flow.get("authorizationUrl")?.as_str()?, flow.get("tokenUrl")?.as_str()?)));
                match (client, user) {
                    (Some(token_url), _) => Some(SchemeKind::OAuth2ClientCredentials {
                        token_url: absolute(token_url),
                        scopes,
                        params: settings
                            .auth
                            .token_params
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    }),
                    (None, Some((authorize_url, token_url))) => Some(SchemeKind::OAuth2AuthorizationCode {
                        authorize_url: absolute(authorize_url),
                        token_url: absolute(token_url),
                        scopes,
                    }),
                    (None, None) => None,
                }
            }
            _ => None,
        };
        match kind {
            Some(kind) => {
                security.index.insert(name.clone(), Some(security.schemes.len()));
                security.schemes.push(SchemeIr {
                    name: name.clone(),
                    kind,
                });
            }
            None => {
                security.index.insert(name.clone(), None);
                let what = if kind_name == "oauth2" {
                    "oauth2 without a clientCredentials or authorizationCode flow".to_owned()
                } else if kind_name == "http" {
                    format!("http {http_scheme}")
                } else if location.is_empty() {
                    kind_name.to_owned()
                } else {
                    format!("{kind_name} in {location}")
                };
                diagnostics.push(
                    Diagnostic::warning("C0401", pointer, format!("security scheme `{name}` ({what}) is not supported yet"))
                        .hint("operations that accept only this scheme are called without a credential; set [auth] in cast.toml if a token works as a bearer or API key"),
                );
            }
        }
    }
    for name in referenced.iter().filter(|n| !security.index.contains_key(*n)) {
        diagnostics.push(Diagnostic::warning(
            "C0102",
            "/components/securitySchemes",
            format!("security scheme `{name}` is used but not defined"),
        ));
    }
    security.global = security.requirements(doc.get("security").unwrap_or(&Value::Null));
    security
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_around_parameters() {
        assert_eq!(
            split_template("/a/{x}/b/{y}"),
            (
                vec!["/a/".into(), "/b/".into(), String::new()],
                vec!["x".into(), "y".into()]
            )
        );
        assert_eq!(split_template("/a"), (vec!["/a".into()], vec![]));
    }

    #[test]
    fn crate_versions_must_be_cargo_semver() {
        assert!(is_semver("1.0.0") && is_semver("2.1.10-beta.1"));
        assert!(!is_semver("2026.06.3") && !is_semver("1.0") && !is_semver("v1"));
    }

    #[test]
    fn destructive_words() {
        assert!(names_destruction(Some("chat.delete"), "/chat.delete"));
        assert!(names_destruction(Some("removeMember"), "/x"));
        assert!(!names_destruction(Some("listDeletedItems"), "/items"));
        assert!(!names_destruction(Some("getItem"), "/items/{id}"));
        assert!(names_destruction(Some("admin.users.remove"), "/admin.users.remove"));
        assert!(names_destruction(None, "/items/{id}/purge"));
        assert!(names_destruction(Some("repos/delete-a-deploy-key"), "/keys/{id}"));
        // The word inside a name that does something else.
        assert!(!names_destruction(
            Some("actions/create-remove-token-for-repo"),
            "/repos/{owner}/{repo}/actions/runners/remove-token"
        ));
        assert!(!names_destruction(None, "/runners/remove-token"));
    }

    #[test]
    fn operations_can_have_their_own_server() {
        let op = |operation: &'static Value, item: &'static Value, global_base: &'static str| OperationRef {
            path: "/files",
            method: HttpMethod::Post,
            item: item.as_object().expect("object"),
            operation,
            pointer: "/paths/~1files/post".to_owned(),
            global_base,
            generated_name: String::new(),
            max_name: 64,
        };
        let leak = |value: Value| -> &'static Value { Box::leak(Box::new(value)) };
        let none = leak(json!({}));
        let upload = leak(
            json!({ "servers": [{ "url": "https://upload.example.com/{v}", "variables": { "v": { "default": "2.0" } } }] }),
        );
        assert_eq!(
            operation_base(&op(none, upload, "https://api.example.com")).as_deref(),
            Some("https://upload.example.com/2.0")
        );
        let same = leak(json!({ "servers": [{ "url": "https://api.example.com/" }] }));
        assert_eq!(operation_base(&op(none, same, "https://api.example.com")), None);
        let relative = leak(json!({ "servers": [{ "url": "/upload" }] }));
        assert_eq!(
            operation_base(&op(relative, same, "https://api.example.com/v1")).as_deref(),
            Some("https://api.example.com/upload")
        );
    }

    #[test]
    fn relative_servers_join_the_spec_url() {
        assert_eq!(join_url("http://h:1/specs/openapi.json", "/v1"), "http://h:1/v1");
        assert_eq!(join_url("http://h:1/specs/openapi.json", "v1"), "http://h:1/specs/v1");
    }
}
