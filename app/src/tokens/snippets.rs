//! Ready-to-paste examples, filled with a real endpoint and token.

/// `(tab label, language, code)` for each way of using a token.
pub fn snippets(server_name: &str, mcp_endpoint: &str, token: &str) -> Vec<(&'static str, &'static str, String)> {
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1.0"}}}"#;
    let config_name = server_name.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let config_name = if config_name.trim_matches('-').is_empty() { "gatehouse".to_string() } else { config_name };
    vec![
        ("curl", "shell", format!(
            "curl -N {mcp_endpoint} \\\n  -H \"Authorization: Bearer {token}\" \\\n  -H \"Content-Type: application/json\" \\\n  -H \"Accept: application/json, text/event-stream\" \\\n  -d '{init}'"
        )),
        ("Python (requests)", "python", format!(
            "import requests\n\nresponse = requests.post(\n    \"{mcp_endpoint}\",\n    headers={{\n        \"Authorization\": \"Bearer {token}\",\n        \"Accept\": \"application/json, text/event-stream\",\n    }},\n    json={init},\n)\nprint(response.status_code, response.text)"
        )),
        ("Python SDK", "python", format!(
            "import asyncio\nfrom mcp import ClientSession\nfrom mcp.client.streamable_http import streamablehttp_client\n\nasync def main():\n    async with streamablehttp_client(\n        \"{mcp_endpoint}\",\n        headers={{\"Authorization\": \"Bearer {token}\"}},\n    ) as (read, write, _):\n        async with ClientSession(read, write) as session:\n            await session.initialize()\n            print(await session.list_tools())\n\nasyncio.run(main())"
        )),
        ("JavaScript (fetch)", "javascript", format!(
            "const response = await fetch(\"{mcp_endpoint}\", {{\n  method: \"POST\",\n  headers: {{\n    Authorization: \"Bearer {token}\",\n    \"Content-Type\": \"application/json\",\n    Accept: \"application/json, text/event-stream\",\n  }},\n  body: JSON.stringify({init}),\n}});\nconsole.log(response.status, await response.text());"
        )),
        ("TypeScript SDK", "typescript", format!(
            "import {{ Client }} from \"@modelcontextprotocol/sdk/client/index.js\";\nimport {{ StreamableHTTPClientTransport }} from \"@modelcontextprotocol/sdk/client/streamableHttp.js\";\n\nconst transport = new StreamableHTTPClientTransport(new URL(\"{mcp_endpoint}\"), {{\n  requestInit: {{ headers: {{ Authorization: \"Bearer {token}\" }} }},\n}});\nconst client = new Client({{ name: \"my-app\", version: \"1.0.0\" }});\nawait client.connect(transport);\nconsole.log(await client.listTools());"
        )),
        ("Client config", "json", format!(
            "{{\n  \"mcpServers\": {{\n    \"{config_name}\": {{\n      \"type\": \"http\",\n      \"url\": \"{mcp_endpoint}\",\n      \"headers\": {{\n        \"Authorization\": \"Bearer {token}\"\n      }}\n    }}\n  }}\n}}"
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_carries_the_real_endpoint_and_token() {
        let all = snippets("Docs search", "http://127.0.0.1:3000/s/abc/mcp", "eyJ.tok.en");
        assert_eq!(all.len(), 6);
        for (label, _, code) in &all {
            assert!(code.contains("http://127.0.0.1:3000/s/abc/mcp"), "{label}");
            assert!(code.contains("Bearer eyJ.tok.en"), "{label}");
        }
        let config = &all[5].2;
        let parsed: serde_json::Value = serde_json::from_str(config).expect("the client config is valid JSON");
        assert_eq!(parsed["mcpServers"]["docs-search"]["headers"]["Authorization"], "Bearer eyJ.tok.en");
    }
}
