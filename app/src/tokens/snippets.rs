//! Ready-to-paste examples, filled with a real endpoint and token, for the transport the
//! server speaks.
use crate::servers::Transport;

/// `(tab label, language, code)` for each way of using a token.
pub fn snippets(server_name: &str, transport: Transport, endpoint: &str, token: &str) -> Vec<(&'static str, &'static str, String)> {
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1.0"}}}"#;
    let config_name = server_name.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let config_name = if config_name.trim_matches('-').is_empty() { "gatehouse".to_string() } else { config_name };
    let (curl, python_import, python_client, ts_module, ts_class, config_type) = match transport {
        Transport::StreamableHttp => (
            format!(
                "curl -N {endpoint} \\\n  -H \"Authorization: Bearer {token}\" \\\n  -H \"Content-Type: application/json\" \\\n  -H \"Accept: application/json, text/event-stream\" \\\n  -d '{init}'"
            ),
            "from mcp.client.streamable_http import streamablehttp_client",
            "streamablehttp_client",
            "streamableHttp",
            "StreamableHTTPClientTransport",
            "http",
        ),
        Transport::Sse => (
            format!(
                "# Opens the event stream; its first event names the URL to POST messages to.\ncurl -N {endpoint} \\\n  -H \"Authorization: Bearer {token}\""
            ),
            "from mcp.client.sse import sse_client",
            "sse_client",
            "sse",
            "SSEClientTransport",
            "sse",
        ),
    };
    let python_unpack = if transport == Transport::Sse { "(read, write)" } else { "(read, write, _)" };
    vec![
        ("curl", "shell", curl),
        (
            "Python SDK",
            "python",
            format!(
                "import asyncio\nfrom mcp import ClientSession\n{python_import}\n\nasync def main():\n    async with {python_client}(\n        \"{endpoint}\",\n        headers={{\"Authorization\": \"Bearer {token}\"}},\n    ) as {python_unpack}:\n        async with ClientSession(read, write) as session:\n            await session.initialize()\n            print(await session.list_tools())\n\nasyncio.run(main())"
            ),
        ),
        (
            "TypeScript SDK",
            "typescript",
            format!(
                "import {{ Client }} from \"@modelcontextprotocol/sdk/client/index.js\";\nimport {{ {ts_class} }} from \"@modelcontextprotocol/sdk/client/{ts_module}.js\";\n\nconst transport = new {ts_class}(new URL(\"{endpoint}\"), {{\n  requestInit: {{ headers: {{ Authorization: \"Bearer {token}\" }} }},\n}});\nconst client = new Client({{ name: \"my-app\", version: \"1.0.0\" }});\nawait client.connect(transport);\nconsole.log(await client.listTools());"
            ),
        ),
        (
            "Client config",
            "json",
            format!(
                "{{\n  \"mcpServers\": {{\n    \"{config_name}\": {{\n      \"type\": \"{config_type}\",\n      \"url\": \"{endpoint}\",\n      \"headers\": {{\n        \"Authorization\": \"Bearer {token}\"\n      }}\n    }}\n  }}\n}}"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_carries_the_real_endpoint_and_token() {
        for (transport, endpoint, kind) in [
            (Transport::StreamableHttp, "http://127.0.0.1:3000/s/abc/mcp", "http"),
            (Transport::Sse, "http://127.0.0.1:3000/s/abc/sse", "sse"),
        ] {
            let all = snippets("Docs search", transport, endpoint, "eyJ.tok.en");
            let labels: Vec<&str> = all.iter().map(|s| s.0).collect();
            assert_eq!(labels, ["curl", "Python SDK", "TypeScript SDK", "Client config"]);
            for (label, _, code) in &all {
                assert!(code.contains(endpoint), "{label}");
                assert!(code.contains("Bearer eyJ.tok.en"), "{label}");
            }
            let parsed: serde_json::Value = serde_json::from_str(&all[3].2).expect("the client config is valid JSON");
            assert_eq!(parsed["mcpServers"]["docs-search"]["headers"]["Authorization"], "Bearer eyJ.tok.en");
            assert_eq!(parsed["mcpServers"]["docs-search"]["type"], kind);
        }
    }
}
