//! Many `Properties.Get` at once, asked compactly: the caller names a few kinds of object
//! (each a list of interfaces and their property names) and, for each object path, its kind;
//! the calls are expanded here, and the replies come back as one flat array of values in the
//! order asked, with the errors beside it. A status asks systemd about ten properties of each
//! of a few hundred units: this keeps thousands of call objects and reply objects off the
//! JavaScript side (see src/systemd/bulk-client.ts `getUnitsProperties`).
//!
//! The answer's text: `{"ok":true,"values":[…],"errors":[[index,name,message],…]}`, one value
//! per property asked (a variant's content as `json::Json` writes it, 64-bit integers as
//! decimal text; null where the Get failed, and its error is in `errors`).
use serde::Serialize;

use super::conn::Reply;
use super::json::Json;
use super::wire::{Arg, Call};

const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// An interface and the names of its properties to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyGroup {
    /// The interface (`org.freedesktop.systemd1.Unit`, …).
    pub interface: String,
    /// Its properties, in the order their values are wanted.
    pub names: Vec<String>,
}

/// The `Properties.Get` calls for each path's kind (`kinds[kind_of[i]]` for `paths[i]`): path
/// by path, group by group, name by name. An error names a path whose kind is not in `kinds`.
pub fn property_calls(
    destination: Option<&str>,
    kinds: &[Vec<PropertyGroup>],
    paths: &[String],
    kind_of: &[u32],
) -> Result<Vec<Call>, String> {
    if paths.len() != kind_of.len() {
        return Err(format!(
            "{} paths but {} kinds named for them",
            paths.len(),
            kind_of.len()
        ));
    }
    let mut calls = Vec::new();
    for (path, &k) in paths.iter().zip(kind_of) {
        let Some(kind) = kinds.get(k as usize) else {
            return Err(format!(
                "{path}: kind {k} of {} kinds named for them",
                kinds.len()
            ));
        };
        for group in kind {
            for name in &group.names {
                calls.push(Call {
                    destination: destination.map(str::to_string),
                    path: path.clone(),
                    interface: Some(PROPERTIES.into()),
                    member: "Get".into(),
                    signature: "ss".into(),
                    args: vec![Arg::Str(group.interface.clone()), Arg::Str(name.clone())],
                });
            }
        }
    }
    Ok(calls)
}

/// The replies of `property_calls`' calls as the answer's text (see the module's comment).
pub fn properties_json(replies: &[Reply]) -> String {
    // Keys in byte order, as a `serde_json::json!` object writes them.
    #[derive(Serialize)]
    struct Answer<'a> {
        errors: Vec<(usize, &'a str, &'a str)>,
        ok: bool,
        values: Vec<Option<Json<'a>>>,
    }
    let mut values = Vec::with_capacity(replies.len());
    let mut errors = Vec::new();
    for (i, r) in replies.iter().enumerate() {
        match r {
            Reply::Ok(body) => values.push(body.first().map(Json)),
            Reply::Err { name, message } => {
                values.push(None);
                errors.push((i, name.as_str(), message.as_str()));
            }
        }
    }
    serde_json::to_string(&Answer {
        errors,
        ok: true,
        values,
    })
    .expect("JSON of D-Bus values")
}

#[cfg(test)]
mod tests {
    use super::super::wire::Value;
    use super::*;

    fn group(interface: &str, names: &[&str]) -> PropertyGroup {
        PropertyGroup {
            interface: interface.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn calls_go_path_by_path_group_by_group_name_by_name() {
        let kinds = vec![
            vec![group("U", &["A", "B"]), group("S", &["C"])],
            vec![group("U", &["A"])],
        ];
        let paths = vec!["/p1".to_string(), "/p2".to_string(), "/p3".to_string()];
        let calls = property_calls(Some("org.x"), &kinds, &paths, &[0, 1, 0]).unwrap();
        let got: Vec<(String, Vec<Arg>)> = calls
            .iter()
            .map(|c| (c.path.clone(), c.args.clone()))
            .collect();
        let want = |p: &str, i: &str, n: &str| {
            (
                p.to_string(),
                vec![Arg::Str(i.to_string()), Arg::Str(n.to_string())],
            )
        };
        assert_eq!(
            got,
            vec![
                want("/p1", "U", "A"),
                want("/p1", "U", "B"),
                want("/p1", "S", "C"),
                want("/p2", "U", "A"),
                want("/p3", "U", "A"),
                want("/p3", "U", "B"),
                want("/p3", "S", "C"),
            ]
        );
        for c in &calls {
            assert_eq!(
                (
                    c.destination.as_deref(),
                    c.interface.as_deref(),
                    c.member.as_str(),
                    c.signature.as_str()
                ),
                (Some("org.x"), Some(PROPERTIES), "Get", "ss")
            );
        }
        assert_eq!(
            property_calls(None, &kinds, &paths[..1], &[2]).unwrap_err(),
            "/p1: kind 2 of 2 kinds named for them"
        );
        assert_eq!(
            property_calls(None, &kinds, &paths, &[0]).unwrap_err(),
            "3 paths but 1 kinds named for them"
        );
        assert!(property_calls(None, &kinds, &[], &[]).unwrap().is_empty());
    }

    #[test]
    fn replies_become_one_array_of_values_and_the_errors_beside_it() {
        let replies = vec![
            Reply::Ok(vec![Value::Variant(Box::new(Value::U64(u64::MAX)))]),
            Reply::Err {
                name: "org.freedesktop.DBus.Error.UnknownProperty".into(),
                message: "no \"X\"".into(),
            },
            Reply::Ok(vec![Value::Variant(Box::new(Value::Array(vec![
                Value::Str("/a.conf".into()),
            ])))]),
            Reply::Ok(vec![Value::Variant(Box::new(Value::Bool(true)))]),
            Reply::Ok(vec![]),
            Reply::Ok(vec![Value::Variant(Box::new(Value::U32(7)))]),
        ];
        let text = properties_json(&replies);
        assert_eq!(
            text,
            r#"{"errors":[[1,"org.freedesktop.DBus.Error.UnknownProperty","no \"X\""]],"ok":true,"values":["18446744073709551615",null,["/a.conf"],true,null,7]}"#
        );
        assert_eq!(
            properties_json(&[]),
            r#"{"errors":[],"ok":true,"values":[]}"#
        );
    }
}
