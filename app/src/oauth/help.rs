//! How to connect the MCP clients people use to an endpoint: with OAuth the URL is enough;
//! with a static token, the header. Shown on the server page and with a new token.
use leptos::prelude::*;

/// `(client, with OAuth, with a token header)`: what to do in each, `{url}` and `{token}` filled in.
pub fn client_steps(url: &str, token: &str) -> Vec<(&'static str, String, String)> {
    vec![
        (
            "Claude",
            format!(
                "claude.ai or Claude Desktop: Settings → Connectors → Add custom connector, paste {url}, then sign in here when asked. Claude Code: claude mcp add --transport http gatehouse {url}"
            ),
            format!(
                "Claude Code: claude mcp add --transport http gatehouse {url} --header \"Authorization: Bearer {token}\" (Claude's connectors sign in with OAuth instead)"
            ),
        ),
        (
            "ChatGPT",
            format!(
                "Settings → Apps & Connectors → Create (developer mode), MCP server URL {url}, authentication OAuth; sign in here when asked."
            ),
            "Not possible: ChatGPT connectors cannot send a header. Turn OAuth on for this server.".to_string(),
        ),
        (
            "VS Code",
            format!(
                "MCP: Add Server → HTTP, URL {url}; VS Code opens this Gatehouse to sign in. Or in .vscode/mcp.json: {{\"servers\": {{\"gatehouse\": {{\"type\": \"http\", \"url\": \"{url}\"}}}}}}"
            ),
            format!(
                "In .vscode/mcp.json: {{\"servers\": {{\"gatehouse\": {{\"type\": \"http\", \"url\": \"{url}\", \"headers\": {{\"Authorization\": \"Bearer {token}\"}}}}}}}}"
            ),
        ),
        (
            "Cursor",
            format!(
                "In ~/.cursor/mcp.json: {{\"mcpServers\": {{\"gatehouse\": {{\"url\": \"{url}\"}}}}}}, then Connect in Settings → MCP."
            ),
            format!(
                "In ~/.cursor/mcp.json: {{\"mcpServers\": {{\"gatehouse\": {{\"url\": \"{url}\", \"headers\": {{\"Authorization\": \"Bearer {token}\"}}}}}}}} — only with OAuth off for this server: Cursor ignores headers once it sees OAuth discovery."
            ),
        ),
        (
            "MCP Inspector",
            format!(
                "npx @modelcontextprotocol/inspector, transport Streamable HTTP, URL {url}, then Open Auth Settings → Quick OAuth Flow."
            ),
            format!(
                "npx @modelcontextprotocol/inspector, transport Streamable HTTP, URL {url}, Authentication: header Authorization, value Bearer {token}."
            ),
        ),
    ]
}

/// The table of [`client_steps`] for `url`; `oauth` says whether the server offers sign-in.
#[component]
pub fn ConnectClients(#[prop(into)] url: String, oauth: bool, #[prop(into, optional)] token: Option<String>) -> impl IntoView {
    let token = token.unwrap_or_else(|| "YOUR-TOKEN".to_string());
    let intro = if oauth {
        "With OAuth (on for this server) the URL is enough: the client sends you here to sign in and approve it. With a token, send it as the Authorization header."
    } else {
        "OAuth sign-in is off for this server, so clients need a token, sent as the Authorization header. Turn OAuth on in Settings for ChatGPT and Claude's connectors."
    };
    view! {
        <section class="mt-10" aria-labelledby="connect-clients" data-connect-help="">
            <h2 id="connect-clients" class="mb-1 text-sm font-semibold uppercase tracking-wide text-slate-500">"Connect a client"</h2>
            <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">{intro}</p>
            <dl class="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white text-sm dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                {client_steps(&url, &token).into_iter().map(|(client, with_oauth, with_token)| view! {
                    <div class="grid gap-1 px-5 py-3 sm:grid-cols-[9rem_1fr]">
                        <dt class="font-medium">{client}</dt>
                        <dd class="space-y-1 break-words text-slate-700 dark:text-slate-300">
                            {oauth.then(|| view! { <p><span class="text-slate-500">"OAuth: "</span>{with_oauth.clone()}</p> })}
                            <p><span class="text-slate-500">"Token: "</span><span class="font-mono text-xs">{with_token}</span></p>
                        </dd>
                    </div>
                }).collect_view()}
            </dl>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_is_covered_with_the_real_url_and_the_header_where_one_can_be_sent() {
        let steps = client_steps("https://gh.example/s/abc/mcp", "eyJ.tok");
        let names: Vec<&str> = steps.iter().map(|s| s.0).collect();
        assert_eq!(names, ["Claude", "ChatGPT", "VS Code", "Cursor", "MCP Inspector"]);
        for (client, oauth, token) in &steps {
            assert!(oauth.contains("https://gh.example/s/abc/mcp"), "{client}");
            if *client != "ChatGPT" {
                assert!(token.contains("Bearer eyJ.tok"), "{client}");
            }
        }
    }
}
