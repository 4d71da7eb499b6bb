use super::*;

fn file(e: &MapEntry) -> (&[u8], bool) {
    match &e.pathname {
        Pathname::File {
            path,
            deleted_suffix,
        } => (path, *deleted_suffix),
        other => panic!("expected a file, got {other:?}"),
    }
}

#[test]
fn captured_cat_maps() {
    let bytes = include_bytes!("../../../../../fixtures/captured/procfs/maps-cat.txt");
    let entries = parse_maps(bytes).unwrap();
    let lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(entries.len(), lines);
    let first = &entries[0];
    assert_eq!(first.perms, *b"r--p");
    assert_eq!((first.major, first.minor), (0xfe, 0));
    assert_eq!(file(first).0, b"/usr/bin/cat");
    assert!(entries
        .iter()
        .any(|e| e.pathname == Pathname::Special(b"[heap]".to_vec())));
    assert!(entries.iter().any(|e| e.pathname == Pathname::Anonymous));
    assert!(entries.iter().all(|e| e.start < e.end));
    // Grouping keeps one row per file, and every file row appears.
    let groups = group_file_mappings(&entries);
    let libc: Vec<_> = groups
        .iter()
        .filter(|g| g.path.ends_with(b"/libc.so.6"))
        .collect();
    assert_eq!(libc.len(), 1);
    let libc_first = entries
        .iter()
        .find(
            |e| matches!(&e.pathname, Pathname::File { path, .. } if path.ends_with(b"/libc.so.6")),
        )
        .unwrap();
    assert_eq!(libc[0].range.name(), libc_first.map_files_name());
    assert_eq!(libc[0].inode, libc_first.inode);
}

#[test]
fn hostile_names() {
    let mut text = Vec::new();
    text.extend_from_slice(
        b"7f0000001000-7f0000002000 r-xp 00001000 fd:01 1234                       /tmp/a b  c\n",
    );
    text.extend_from_slice(
        b"7f0000002000-7f0000003000 r--p 00000000 fd:01 1235                       /tmp/new\\012line\n",
    );
    text.extend_from_slice(
        b"7f0000003000-7f0000004000 r--p 00000000 fd:01 1236                       /tmp/x (deleted) (deleted)\n",
    );
    text.extend_from_slice(
        b"7f0000004000-7f0000005000 r--p 00000000 fd:01 1237                       /tmp/tab\there\\back\\101\n",
    );
    text.extend_from_slice(
        b"7f0000005000-7f0000006000 r--p 00000000 fd:01 1238                       /tmp/\xff\xfe-latin\xe9\n",
    );
    text.extend_from_slice(b"7f0000006000-7f0000007000 rw-p 00000000 00:00 0 \n");
    text.extend_from_slice(
        b"7f0000007000-7f0000008000 rw-p 00000000 00:00 0                          [anon:my name]\n",
    );
    text.extend_from_slice(
        b"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
    );
    let e = parse_maps(&text).unwrap();
    assert_eq!(e.len(), 8);
    assert_eq!(file(&e[0]), (&b"/tmp/a b  c"[..], false));
    assert_eq!(file(&e[1]), (&b"/tmp/new\nline"[..], false));
    assert_eq!(file(&e[2]), (&b"/tmp/x (deleted)"[..], true));
    // Backslashes are not escaped in maps: "\101" is four literal bytes.
    assert_eq!(file(&e[3]), (&b"/tmp/tab\there\\back\\101"[..], false));
    assert_eq!(file(&e[4]), (&b"/tmp/\xff\xfe-latin\xe9"[..], false));
    assert_eq!(e[5].pathname, Pathname::Anonymous);
    assert_eq!(e[6].pathname, Pathname::Special(b"[anon:my name]".to_vec()));
    assert_eq!(e[7].start, 0xffff_ffff_ff60_0000);
    assert_eq!(e[0].offset, 0x1000);
    assert_eq!((e[0].major, e[0].minor, e[0].inode), (0xfd, 1, 1234));
}

#[test]
fn map_files_name_is_unpadded() {
    let e = parse_line(b"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon")
        .unwrap();
    assert_eq!(e.map_files_name(), "400000-452000");
    assert_eq!((e.major, e.minor), (8, 2));
}

#[test]
fn grouping_keys_on_device_and_inode() {
    let text = b"1000-2000 r--p 00000000 fd:01 7 /lib/a.so\n\
2000-3000 r-xp 00001000 fd:01 7 /lib/a.so\n\
3000-4000 r--p 00000000 fd:02 7 /other/a.so\n\
4000-5000 rw-p 00000000 00:00 0 \n\
5000-6000 rw-p 00002000 fd:01 7 /lib/a.so\n\
6000-7000 r--p 00000000 fd:01 9 /lib/b.so (deleted)\n";
    let g = group_file_mappings(&parse_maps(text).unwrap());
    assert_eq!(g.len(), 3);
    assert_eq!(g[0].range.name(), "1000-2000");
    assert_eq!((g[1].minor, g[1].path.as_slice()), (2, &b"/other/a.so"[..]));
    assert_eq!(g[2].path, b"/lib/b.so");
    assert!(g[2].deleted_suffix);
}

#[test]
fn a_file_is_shared_only_when_every_mapping_of_it_is() {
    // Shared memory unlinked once mapped, a library (private, some ranges writable), a file
    // mapped both ways, a shared file whose second range comes after another file, and a
    // file mapped shared and executable.
    let text = b"1000-2000 rw-s 00000000 00:1b 4 /dev/shm/seg (deleted)\n\
2000-3000 r--p 00000000 fd:01 7 /lib/a.so\n\
3000-4000 r-xp 00001000 fd:01 7 /lib/a.so\n\
4000-5000 r--s 00000000 fd:01 8 /var/lib/sss/mc/passwd\n\
5000-6000 r--p 00000000 fd:01 9 /data/both\n\
6000-7000 rw-s 00000000 fd:01 9 /data/both\n\
7000-8000 r--s 00000000 fd:01 8 /var/lib/sss/mc/passwd\n\
8000-9000 r-xs 00000000 fd:01 10 /opt/jit/code (deleted)\n";
    let want = [
        (&b"/dev/shm/seg"[..], true),
        (b"/lib/a.so", false),
        (b"/var/lib/sss/mc/passwd", true),
        (b"/data/both", false),
        // Shared but executable: code, never data.
        (b"/opt/jit/code", false),
    ];
    let grouped = group_file_mappings(&parse_maps(text).unwrap());
    let got: Vec<(&[u8], bool)> = grouped
        .iter()
        .map(|f| (f.path.as_slice(), f.shared))
        .collect();
    assert_eq!(got, want);
    assert_eq!(parse_file_mappings(text).unwrap().0, grouped);
    // Past the linear look-up's size: the index finds the earlier entry too.
    let mut many = Vec::new();
    for i in 0..40u64 {
        many.extend_from_slice(
            format!(
                "{:x}-{:x} r--s 00000000 fd:01 {} /f{i}\n",
                i * 2,
                i * 2 + 1,
                100 + i
            )
            .as_bytes(),
        );
    }
    many.extend_from_slice(b"100-200 r--p 00000000 fd:01 103 /f3\n");
    many.extend_from_slice(b"200-300 r--s 00000000 fd:01 139 /f39\n");
    let (files, _) = parse_file_mappings(&many).unwrap();
    assert_eq!(files, group_file_mappings(&parse_maps(&many).unwrap()));
    assert_eq!(
        files
            .iter()
            .filter(|f| !f.shared)
            .map(|f| f.inode)
            .collect::<Vec<_>>(),
        vec![103]
    );
}

#[test]
fn file_mappings_parser_matches_parse_then_group() {
    let cat = include_bytes!("../../../../../fixtures/captured/procfs/maps-cat.txt");
    let mut many = Vec::new();
    // More distinct files than the linear look-up handles, each mapped twice apart.
    for round in 0..2 {
        for i in 0..100u64 {
            many.extend_from_slice(
                format!(
                    "{:x}-{:x} r--p 00000000 fd:01 {} /lib/l{i}.so{}\n",
                    0x1000 * (2 * i + round * 1000 + 1),
                    0x1000 * (2 * i + round * 1000 + 2),
                    100 + i,
                    if i % 7 == 0 { " (deleted)" } else { "" }
                )
                .as_bytes(),
            );
            many.extend_from_slice(b"0-1000 rw-p 00000000 00:00 0 \n");
        }
    }
    let hostile = b"1000-2000 r--p 00000000 fd:01 7 /lib/a\\012b.so\n\
2000-3000 rw-p 00000000 00:00 0                [heap]\n\
3000-4000 r--p 00000000 fd:01 7 /lib/a\\012b.so\n";
    for bytes in [&cat[..], &many, &hostile[..], b"", b"\n\n"] {
        let entries = parse_maps(bytes).unwrap();
        let (files, count) = parse_file_mappings(bytes).unwrap();
        assert_eq!(files, group_file_mappings(&entries));
        assert_eq!(count, entries.len());
    }
    assert_eq!(parse_file_mappings(&many).unwrap().0.len(), 100);
    for bad in [&b"1000-2000 r--p 0 fd01 7 /x"[..], b"\xff", b"-"] {
        assert_eq!(
            parse_file_mappings(bad).unwrap_err(),
            parse_maps(bad).unwrap_err()
        );
    }
}

#[test]
fn lines_split_like_split() {
    let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"\n".to_vec(), b"a\n\nb".to_vec()];
    // Newlines at every offset of a word, and bytes that trip naive zero-byte tests.
    for at in 0..20 {
        let mut v = vec![0x8bu8; 24];
        v[at] = b'\n';
        v[(at + 5) % 24] = 0x0b;
        cases.push(v);
    }
    cases.push(include_bytes!("../../../../../fixtures/captured/procfs/maps-cat.txt").to_vec());
    for c in cases {
        let ours: Vec<&[u8]> = Lines::new(&c).collect();
        let std: Vec<&[u8]> = c.split(|b| *b == b'\n').collect();
        assert_eq!(ours, std);
    }
}

#[test]
fn skip_spaces_finds_the_first_other_byte() {
    for len in 0..20 {
        for other in 0..=len {
            let mut v = vec![b' '; len];
            if other < len {
                v[other] = b'/';
            }
            assert_eq!(skip_spaces(&v), other, "{len} {other}");
        }
    }
}

#[test]
fn hex_fields_uppercase_and_long_are_read_as_before() {
    let e = parse_line(b"7F0000001000-7f0000002000 r-xp 0000ABCD FD:01 5 /x").unwrap();
    assert_eq!(
        (e.start, e.offset, e.major),
        (0x7f00_0000_1000, 0xabcd, 0xfd)
    );
    assert!(parse_line(b"11112222333344445-2 r--p 0 fd:01 7 /x").is_err());
    assert!(parse_line(b"-2000 r--p 0 fd:01 7 /x").is_err());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [
        &b"zzzz-2000 r--p 0 fd:01 7 /x"[..],
        b"1000-2000 r--p",
        b"1000-2000 r--p 0 fd01 7 /x",
        b"1000-2000 rp 0 fd:01 7 /x",
        b"1000-2000 r--p 0 fd:01 x7 /x",
        b"1000-2000 r--p 0 fffffffff:01 7 /x",
        b"-",
        b"\xff",
    ] {
        assert!(
            parse_maps(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Every prefix of a valid line either parses or fails cleanly.
    let good = b"7f0000001000-7f0000002000 r-xp 00001000 fd:01 1234   /tmp/a";
    for i in 0..good.len() {
        let _ = parse_line(&good[..i]);
    }
}
