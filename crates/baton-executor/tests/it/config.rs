//! Registration bodies: what is accepted (with its defaults) and what is refused, with the message the person
//! registering the job type sees.

use std::collections::BTreeMap;

use baton_executor::{ExecutorConfig, HttpConfig, InvalidConfig, ShellConfig};
use serde_json::json;

use super::parse;

#[test]
fn omitted_fields_take_their_defaults() {
    assert_eq!(
        parse("shell", json!({"command": "ls"})),
        ExecutorConfig::Shell(ShellConfig {
            command: "ls".to_owned(),
            args: vec![],
            env: BTreeMap::new(),
            working_dir: None,
            max_output_bytes: 64 * 1024,
        })
    );
    assert_eq!(
        parse("http", json!({"url": "https://example.com/hook", "method": "put"})),
        ExecutorConfig::Http(HttpConfig {
            method: "PUT".to_owned(),
            url: "https://example.com/hook".to_owned(),
            headers: BTreeMap::new(),
            body_template: None,
            max_response_bytes: 64 * 1024,
        })
    );
    assert_eq!(parse("http", json!({"url": "http://127.0.0.1:1/"})).kind(), "http");
    assert_eq!(parse("shell", json!({"command": "ls"})).kind(), "shell");
}

#[test]
fn exec_form_runs_the_line_with_sh() {
    let ExecutorConfig::Shell(shell) = ExecutorConfig::shell_command("make test | tee log").unwrap() else {
        panic!("shell_command gives a shell config");
    };
    assert_eq!((shell.command.as_str(), shell.args), ("sh", vec!["-c".to_owned(), "make test | tee log".to_owned()]));
    assert_eq!(ExecutorConfig::shell_command("  "), Err(InvalidConfig("command line is empty".to_owned())));
}

#[test]
fn invalid_registrations_are_refused_with_a_message() {
    let cases = [
        ("docker", json!({"image": "x"}), r#"unknown executor "docker": expected "shell" or "http""#),
        ("shell", json!(["ls"]), "shell executor config must be a JSON object"),
        ("shell", json!({}), "invalid shell executor config: missing field `command`"),
        (
            "shell",
            json!({"command": "ls", "comand": "ls"}),
            "invalid shell executor config: unknown field `comand`, expected one of `command`, `args`, `env`, \
             `working_dir`, `max_output_bytes`",
        ),
        ("shell", json!({"command": " "}), "command is empty"),
        ("shell", json!({"command": "ls", "args": ["a\u{0}b"]}), "args[0] contains a NUL byte"),
        ("shell", json!({"command": "ls", "env": {"A=B": "x"}}), r#"env name "A=B" is not a valid variable name"#),
        (
            "shell",
            json!({"command": "ls", "env": {"BATON_JOB_ID": "x"}}),
            r#"env name "BATON_JOB_ID" is reserved: the executor sets BATON_JOB_* itself"#,
        ),
        (
            "shell",
            json!({"command": "ls", "max_output_bytes": 2_097_152}),
            "max_output_bytes is 2097152 bytes; the limit is 1048576",
        ),
        (
            "shell",
            json!({"command": "ls", "max_output_bytes": -1}),
            "invalid shell executor config: invalid value: integer `-1`, expected usize",
        ),
        ("http", json!({"method": "POST"}), "invalid http executor config: missing field `url`"),
        ("http", json!({"url": "not a url"}), r#"url "not a url" is not valid: relative URL without a base"#),
        ("http", json!({"url": "ftp://example.com/"}), r#"url "ftp://example.com/" must use http or https"#),
        ("http", json!({"url": "http://x", "method": "GE T"}), r#"method "GE T" is not a valid HTTP method"#),
        ("http", json!({"url": "http://x", "method": ""}), r#"method "" is not a valid HTTP method"#),
        ("http", json!({"url": "http://x", "headers": {"bad name": "v"}}), r#"header name "bad name" is not valid"#),
        ("http", json!({"url": "http://x", "headers": {"X-A": "a\nb"}}), r#"header "X-A" has an invalid value"#),
        (
            "http",
            json!({"url": "http://x", "headers": {"X-Baton-Job-Id": "forged"}}),
            r#"header "X-Baton-Job-Id" is set by the executor and cannot be configured"#,
        ),
        (
            "http",
            json!({"url": "http://x", "headers": {"X-A": "1", "x-a": "2"}}),
            r#"header "x-a" is given twice (names are case-insensitive)"#,
        ),
        (
            "http",
            json!({"url": "http://x", "body_template": "{\"p\": {{payloads}}}"}),
            "body_template has unknown placeholder {{payloads}}; the placeholders are {{payload}}, {{job_id}}, \
             {{attempt}}, {{queue}}, {{type}}",
        ),
        (
            "http",
            json!({"url": "http://x", "body_template": "x".repeat(64 * 1024 + 1)}),
            "body_template is 65537 bytes; the limit is 65536",
        ),
        (
            "http",
            json!({"url": "http://x", "max_response_bytes": 1_048_577}),
            "max_response_bytes is 1048577 bytes; the limit is 1048576",
        ),
    ];
    for (executor, config, message) in cases {
        assert_eq!(
            ExecutorConfig::parse(executor, &config),
            Err(InvalidConfig(message.to_owned())),
            "{executor} {config}"
        );
    }
}
