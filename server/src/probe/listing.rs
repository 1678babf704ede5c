//! What an upstream's answers say about it, read from their JSON: both transports' clients
//! hand their answers here, so a tool reads the same whichever way it came.
use serde_json::Value;

use app::servers::{
    Transport,
    health::{Discovery, MAX_LISTED, PromptInfo, ResourceInfo, ToolInfo},
};

/// The longest description kept: a listing is for choosing tools, not documentation.
const MAX_DESCRIPTION: usize = 300;

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(|s| {
        if s.chars().count() > MAX_DESCRIPTION {
            format!("{}…", s.chars().take(MAX_DESCRIPTION).collect::<String>())
        } else {
            s.to_string()
        }
    })
}

fn tool(value: &Value) -> Option<ToolInfo> {
    Some(ToolInfo {
        name: value.get("name")?.as_str()?.to_string(),
        title: text(value, "title"),
        description: text(value, "description"),
        read_only: value.pointer("/annotations/readOnlyHint").and_then(Value::as_bool).unwrap_or(false),
        annotations: value.get("annotations").filter(|a| a.is_object()).cloned(),
    })
}

fn prompt(value: &Value) -> Option<PromptInfo> {
    Some(PromptInfo { name: value.get("name")?.as_str()?.to_string(), description: text(value, "description") })
}

fn resource(value: &Value) -> Option<ResourceInfo> {
    Some(ResourceInfo {
        uri: value.get("uri")?.as_str()?.to_string(),
        name: value.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
        description: text(value, "description"),
    })
}

fn read<T>(items: &[Value], one: fn(&Value) -> Option<T>) -> Vec<T> {
    items.iter().filter_map(one).take(MAX_LISTED).collect()
}

/// A discovery from the server's own description (an `initialize` result or its equivalent)
/// and the items of its `tools/list`, `prompts/list` and `resources/list` answers.
pub fn discovery_from_lists(transport: Transport, server: &Value, tools: &[Value], prompts: &[Value], resources: &[Value]) -> Discovery {
    Discovery {
        transport,
        protocol_version: server.get("protocolVersion").and_then(Value::as_str).unwrap_or("unknown").to_string(),
        server_name: server.pointer("/serverInfo/name").and_then(Value::as_str).unwrap_or("(unnamed)").to_string(),
        server_version: server.pointer("/serverInfo/version").and_then(Value::as_str).map(str::to_string),
        tools: read(tools, tool),
        prompts: read(prompts, prompt),
        resources: read(resources, resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tools_prompts_and_resources_are_read_with_their_annotations() {
        let server = json!({"protocolVersion": "2025-11-25", "serverInfo": {"name": "demo", "version": "1.2"}});
        let tools = [
            json!({"name": "echo", "description": "Echoes", "annotations": {"readOnlyHint": true}}),
            json!({"name": "ticker", "annotations": {"readOnlyHint": false, "destructiveHint": true}}),
            json!({"description": "no name: skipped"}),
        ];
        let found =
            discovery_from_lists(Transport::Sse, &server, &tools, &[json!({"name": "greet"})], &[json!({"uri": "file:///a", "name": "a"})]);
        assert_eq!(
            (found.server_name.as_str(), found.server_version.as_deref(), found.protocol_version.as_str()),
            ("demo", Some("1.2"), "2025-11-25")
        );
        assert_eq!(found.tools.iter().map(|t| (t.name.as_str(), t.read_only)).collect::<Vec<_>>(), [("echo", true), ("ticker", false)]);
        assert_eq!(found.tools[1].annotations, Some(json!({"readOnlyHint": false, "destructiveHint": true})));
        assert_eq!((found.prompts.len(), found.resources[0].uri.as_str()), (1, "file:///a"));
        let long = json!({"name": "x", "description": "d".repeat(1000)});
        assert_eq!(
            discovery_from_lists(Transport::Sse, &server, &[long], &[], &[]).tools[0].description.as_ref().unwrap().chars().count(),
            301
        );
    }
}
