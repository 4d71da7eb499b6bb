//! Package origins by source package: each package origin of the timeline keeps its source
//! package's name and version (`timeline_origins.source`, `.source_version`, as the package
//! database gives them), so that `timeline --package openssl=3.0.11` finds `libssl3`
//! `3.0.11-1~deb12u2`. Which origins a `--package` asks for is decided here, the version
//! rule being `packages::upstream`'s.
use rusqlite::{params, Connection};

use super::timeline_query::TimelineFilter;
use crate::packages::upstream::version_matches;

/// Schema 7 -> 8. Package origins recorded before take their source from the catalog's
/// `packages` where the (manager, name, version) the origin names (its label is the
/// manager, its key `NAME=VERSION`) has exactly one source there; the others stay NULL
/// (counted by `unsourced`, said by `timeline`). NAME is the key up to its first `=` (no
/// package name holds one), so that `packages`' (manager, name, version, …) index finds it.
pub(super) const MIGRATION: &str = "
    ALTER TABLE timeline_origins ADD COLUMN source TEXT;
    ALTER TABLE timeline_origins ADD COLUMN source_version TEXT;
    UPDATE timeline_origins AS o SET (source, source_version) = (
        SELECT DISTINCT p.source, p.source_version FROM packages p
        WHERE p.manager = o.label AND p.name = substr(o.key, 1, instr(o.key, '=') - 1)
          AND p.version = substr(o.key, instr(o.key, '=') + 1) AND p.source <> ''
    )
    WHERE o.kind = 'package' AND instr(o.key, '=') > 1 AND (
        SELECT count(*) FROM (
            SELECT DISTINCT p.source, p.source_version FROM packages p
            WHERE p.manager = o.label AND p.name = substr(o.key, 1, instr(o.key, '=') - 1)
              AND p.version = substr(o.key, instr(o.key, '=') + 1) AND p.source <> ''
        )
    ) = 1;
    UPDATE timeline_origins SET source_version = NULL WHERE source_version = '';
    CREATE INDEX timeline_origins_source ON timeline_origins (source) WHERE source IS NOT NULL;
";

/// The package origins `--package NAME[=VERSION]` asks for: those whose binary name or
/// source name is NAME and, with a VERSION, whose binary or source version it names
/// (`version_matches`), by id.
pub(super) fn matching_origins(
    conn: &Connection,
    name: &str,
    version: Option<&str>,
) -> rusqlite::Result<Vec<i64>> {
    // NAME= … NAME> : every version of the binary NAME, by the (kind, key) index ('>'
    // follows '='); and the source NAME by its own index.
    let mut stmt = conn.prepare_cached(
        "SELECT id, key, source, source_version FROM timeline_origins
         WHERE kind = 'package' AND key >= ?1 AND key < ?2
         UNION
         SELECT id, key, source, source_version FROM timeline_origins
         WHERE source = ?3 AND kind = 'package'",
    )?;
    let rows = stmt.query_map(params![format!("{name}="), format!("{name}>"), name], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut ids = Vec::new();
    for row in rows {
        let (id, key, source, source_version) = row?;
        let Some((binary, binary_version)) = key.split_once('=') else {
            continue;
        };
        if binary != name && source.as_deref() != Some(name) {
            continue;
        }
        let wanted = match version {
            None => true,
            Some(v) => {
                version_matches(v, binary_version)
                    || source_version
                        .as_deref()
                        .is_some_and(|s| version_matches(v, s))
            }
        };
        if wanted {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// How many package versions (origins) recorded without their source package were in
/// memory in [since, until], in the filter's unit or container: a source name asked for may
/// not match them (asked when no interval matched through a binary name).
pub(super) fn unsourced(
    conn: &Connection,
    f: &TimelineFilter,
    since: i64,
    until: i64,
    open_end: i64,
) -> rusqlite::Result<i64> {
    conn.query_row(
        // Per origin, one step into its (origin_id, first_seen) intervals until one is in range.
        "SELECT count(*) FROM timeline_origins o
         WHERE o.kind = 'package' AND o.source IS NULL AND EXISTS (
           SELECT 1 FROM timeline_uses u JOIN timeline_processes p ON p.id = u.process_id
           WHERE u.origin_id = o.id AND u.first_seen <= ?1 AND coalesce(u.ended_at, ?2) > ?3
             AND (?4 IS NULL OR p.unit = ?4) AND (?5 IS NULL OR p.container = ?5))",
        params![until, open_end, since, f.unit, f.container],
        |r| r.get(0),
    )
}
