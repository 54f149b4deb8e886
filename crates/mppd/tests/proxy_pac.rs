#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PAC evaluation (SPEC §18, issue 8), against pacparser's `pactester` as the oracle.
//!
//! - Differential: `tests/data/pac/rules.pac` (39 rules using every standard helper and the
//!   Microsoft `Ex` ones) over the 1,000 URLs of `urls.txt`, evaluated by
//!   `pactester -p rules.pac -f urls.txt -c 10.1.2.3` and by
//!   `mppd proxy find --pac rules.pac --my-ip 10.1.2.3 --urls urls.txt`, both run by one shell
//!   inside one private mount and network namespace whose `/etc/hosts` is `tests/data/pac/hosts`:
//!   both resolve the same names to the same addresses, and no DNS query leaves the machine
//!   (the namespace has only a loopback, down, so names outside the hosts file fail at once in
//!   both). Every line must be equal; pactester must give at least 5 different answers, and
//!   every answer the PAC file can give must occur (so the URLs reach every rule).
//! - Single URLs: line 1 of `mppd proxy find --pac` is what `pactester -u` prints, line 2 the
//!   proxy the phone would use.
//! - Hostile PAC files (an endless loop, huge allocations, deep recursion, a syntax error,
//!   non-string answers, no `FindProxyForURL`, a throw): `DIRECT`, a warning naming the
//!   failure, exit 0, within 5 s.
//! - Exit codes: 1 for a missing PAC file or an invalid URL, 2 for a usage error.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Sandbox, s};

/// `tests/data/pac`.
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/pac");

/// The address `myIpAddress()` is pinned to on both sides.
const MY_IP: &str = "10.1.2.3";

/// How long a run on a hostile PAC file may take (the engine's own limit is 2 s per call).
const HOSTILE_LIMIT: Duration = Duration::from_secs(5);

fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Panics naming the Debian package when `tool` is not installed.
fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{tool} is not installed: install the Debian package `{package}` (scripts/test lists it)"
    );
}

/// The rules of rules.pac: the numbers of its `// rule N` markers (which must be 1, 2, ... N)
/// and the literal strings of its `return "..."` statements.
fn pac_rules(pac: &str) -> (usize, Vec<String>) {
    let mut numbers = Vec::new();
    let mut returns = Vec::new();
    for line in pac.lines() {
        let t = line.trim();
        if let Some(n) = t.strip_prefix("// rule ") {
            let n: usize = n.split(':').next().unwrap().parse().unwrap();
            numbers.push(n);
        }
        if let Some(r) = t.strip_prefix("return \"") {
            returns.push(r.strip_suffix("\";").unwrap().to_owned());
        }
    }
    let expected: Vec<usize> = (1..=numbers.len()).collect();
    assert_eq!(
        numbers, expected,
        "rules.pac: the rules are numbered 1, 2, ..."
    );
    (numbers.len(), returns)
}

/// `URL : RESULT` lines as `(URL, RESULT)`.
fn parse_list(out: &str, what: &str) -> Vec<(String, String)> {
    out.lines()
        .map(|l| {
            let (u, r) = l
                .split_once(" : ")
                .unwrap_or_else(|| panic!("{what}: not `URL : RESULT`: {l:?}"));
            (u.to_owned(), r.to_owned())
        })
        .collect()
}

/// The outcome of one command run inside the private namespace.
struct Ran {
    code: String,
    stdout: String,
    stderr: String,
}

/// Runs `pactester` and `mppd` (each given as a shell command line using `$PAC`, `$URLS`,
/// `$OUT`, `$MPPD`) one after the other in one `unshare --mount --net` namespace whose
/// `/etc/hosts` is `hosts`; returns what each printed and its exit status.
fn in_private_namespace(
    sandbox: &Sandbox,
    hosts: &Path,
    pac: &Path,
    commands: &[(&str, &str)],
) -> BTreeMap<String, Ran> {
    require("unshare", "util-linux");
    require("pactester", "libpacparser1");
    let out = sandbox.dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let mut script = String::from(r#"mount --bind "$HOSTS" /etc/hosts || exit 97"#);
    for (name, line) in commands {
        script.push_str(&format!(
            "\n{line} > \"$OUT/{name}.out\" 2> \"$OUT/{name}.err\"; echo $? > \"$OUT/{name}.rc\""
        ));
    }
    let status = Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
        ])
        .arg(&script)
        .env("HOSTS", hosts)
        .env("PAC", pac)
        .env("URLS", data("urls.txt"))
        .env("OUT", &out)
        .env("MPPD", BIN)
        .env("STATE", sandbox.state())
        .env("MY_IP", MY_IP)
        .env_remove("MPPD_STATE_DIR")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(sandbox.dir.path())
        .stdin(Stdio::null())
        .status()
        .expect("running unshare (root is needed for the private namespace)");
    assert!(
        status.success(),
        "unshare --mount --net sh -c {script:?}: {status} (97: the bind mount of {} failed)",
        hosts.display()
    );
    commands
        .iter()
        .map(|(name, _)| {
            let f = |ext: &str| read(&out.join(format!("{name}.{ext}")));
            (
                (*name).to_owned(),
                Ran {
                    code: f("rc").trim().to_owned(),
                    stdout: f("out"),
                    stderr: f("err"),
                },
            )
        })
        .collect()
}

/// The private hosts file: `tests/data/pac/hosts` copied into the sandbox.
fn hosts_file(sandbox: &Sandbox) -> PathBuf {
    sandbox.write("hosts", read(&data("hosts")))
}

#[test]
fn mppd_answers_as_pactester_on_1000_urls() {
    let pac_text = read(&data("rules.pac"));
    let (rules, returns) = pac_rules(&pac_text);
    assert!(rules >= 30, "rules.pac has {rules} rules, fewer than 30");
    assert_eq!(
        returns.len(),
        rules,
        "rules.pac: one `return \"...\"` per rule: {returns:?}"
    );
    let distinct_returns: BTreeSet<&String> = returns.iter().collect();
    assert_eq!(
        distinct_returns.len(),
        returns.len(),
        "rules.pac: no two rules return the same string"
    );
    let urls: Vec<String> = read(&data("urls.txt"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(urls.len(), 1000, "urls.txt has 1,000 URLs");

    let sandbox = Sandbox::new();
    let hosts = hosts_file(&sandbox);
    let ran = in_private_namespace(
        &sandbox,
        &hosts,
        &data("rules.pac"),
        &[
            ("pactester", r#"pactester -p "$PAC" -f "$URLS" -c "$MY_IP""#),
            (
                "mppd",
                r#""$MPPD" --state-dir "$STATE" proxy find --pac "$PAC" --my-ip "$MY_IP" --urls "$URLS""#,
            ),
        ],
    );
    let (p, m) = (&ran["pactester"], &ran["mppd"]);
    assert_eq!(
        p.code, "0",
        "pactester failed (pacparser 1.3.6's dnsResolveEx overflows the heap for answers longer \
         than 23 characters: see gen_urls.py)\n--- stderr:\n{}",
        p.stderr
    );
    assert_eq!(
        m.code, "0",
        "mppd proxy find --urls failed\n--- stderr:\n{}",
        m.stderr
    );
    assert!(
        !m.stderr.contains("warning"),
        "mppd warned on rules.pac:\n{}",
        m.stderr
    );
    let expected = parse_list(&p.stdout, "pactester");
    let actual = parse_list(&m.stdout, "mppd");
    let expected_urls: Vec<&String> = expected.iter().map(|(u, _)| u).collect();
    let urls_ref: Vec<&String> = urls.iter().collect();
    assert_eq!(
        expected_urls, urls_ref,
        "pactester answered every URL in order"
    );

    // The oracle is not trivial: many different answers, and every rule reached.
    let answers: BTreeSet<&str> = expected.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        answers.len() >= 5,
        "pactester gave only {} different answers: {answers:?}",
        answers.len()
    );
    let unreached: Vec<&String> = returns
        .iter()
        .filter(|r| !answers.contains(r.as_str()))
        .collect();
    assert!(
        unreached.is_empty(),
        "no URL of urls.txt reaches the rules returning {unreached:?}"
    );

    let mut diffs = String::new();
    let mut count = 0;
    for (i, url) in urls.iter().enumerate() {
        let want = &expected[i].1;
        let got = actual.get(i);
        let same = got.is_some_and(|(u, r)| u == url && r == want);
        if !same {
            count += 1;
            if count <= 20 {
                diffs.push_str(&format!(
                    "  {url}\n      pactester: {want}\n      mppd:      {}\n",
                    got.map_or("(no line)".to_owned(), |(u, r)| format!("{u} : {r}"))
                ));
            }
        }
    }
    assert!(
        count == 0 && actual.len() == expected.len(),
        "mppd differs from pactester on {count} of {} URLs ({} lines from mppd); the first:\n{diffs}\
         --- mppd stderr:\n{}",
        urls.len(),
        actual.len(),
        m.stderr
    );
}

#[test]
fn single_url_gives_the_pac_answer_and_the_proxy_used() {
    let sandbox = Sandbox::new();
    let hosts = hosts_file(&sandbox);
    // (URL, line 2: the proxy mppd uses): DIRECT, single proxies, a failover list (whose
    // next entries mppd prints as `fallback:` lines after line 2).
    let cases = [
        ("http://www.corp.example/index.html", "proxy: DIRECT"),
        (
            "https://printer/images/logo.png",
            "proxy: PROXY lan-plain.corp.example:8001",
        ),
        (
            "http://git.v6.corp.example/",
            "proxy: PROXY v6-gw.corp.example:8007",
        ),
        (
            "http://www.github.example/",
            "proxy: PROXY default-a.example.com:3128",
        ),
    ];
    let mut commands = Vec::new();
    for (i, (url, _)) in cases.iter().enumerate() {
        commands.push((
            format!("pactester{i}"),
            format!(r#"pactester -p "$PAC" -u '{url}' -c "$MY_IP""#),
        ));
        commands.push((
            format!("mppd{i}"),
            format!(
                r#""$MPPD" --state-dir "$STATE" proxy find --pac "$PAC" --my-ip "$MY_IP" '{url}'"#
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = commands
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let ran = in_private_namespace(&sandbox, &hosts, &data("rules.pac"), &refs);
    for (i, (url, proxy_line)) in cases.iter().enumerate() {
        let p = &ran[&format!("pactester{i}")];
        let m = &ran[&format!("mppd{i}")];
        assert_eq!(p.code, "0", "pactester -u {url}: {}", p.stderr);
        assert_eq!(
            m.code, "0",
            "mppd proxy find {url}: {}{}",
            m.stdout, m.stderr
        );
        let want = p.stdout.trim_end();
        let lines: Vec<&str> = m.stdout.lines().take(2).collect();
        assert_eq!(
            lines,
            [want, *proxy_line],
            "mppd proxy find --pac rules.pac {url}\n--- stdout:\n{}--- stderr:\n{}",
            m.stdout,
            m.stderr
        );
    }
}

/// Runs `mppd proxy find --pac FILE http://example.com/` on a PAC file holding `script` and
/// checks the contract for broken PAC files: `DIRECT`, exit 0, within [`HOSTILE_LIMIT`], and a
/// warning on stderr that contains every one of `words`.
#[track_caller]
fn assert_broken_pac_gives_direct(name: &str, script: &str, words: &[&str]) {
    let sandbox = Sandbox::new();
    // A neutral file name: the warning names the file, and must not pass on its name alone.
    let pac = sandbox.write("hostile.pac", script);
    let start = Instant::now();
    let run = sandbox.mppd(&["proxy", "find", "--pac", s(&pac), "http://example.com/"]);
    let took = start.elapsed();
    let what = format!(
        "{name}: mppd proxy find --pac hostile.pac http://example.com/ ({took:?})\n--- PAC:\n{script}\n\
         --- stdout:\n{}\n--- stderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        took < HOSTILE_LIMIT,
        "took {took:?}, over {HOSTILE_LIMIT:?}: {what}"
    );
    assert_eq!(run.code, Some(0), "exit code: {what}");
    assert_eq!(
        run.stdout.lines().next(),
        Some("DIRECT"),
        "line 1 is DIRECT: {what}"
    );
    assert_eq!(run.stdout, "DIRECT\nproxy: DIRECT\n", "{what}");
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("warning: PAC"))
        .unwrap_or_else(|| panic!("no `warning: PAC` line on stderr: {what}"));
    for w in words {
        assert!(
            warning.contains(w),
            "the warning does not say {w:?}: {warning:?}\n{what}"
        );
    }
}

/// mppd's warnings (crates/mppd/src/proxy/pac.rs, `PacError`'s `Display`).
const TIMED_OUT: &str = "PAC evaluation timed out after 2s (time limit)";
const OUT_OF_MEMORY: &str = "PAC evaluation ran out of memory (limit 32 MiB)";

#[test]
fn endless_loop_in_find_proxy_for_url_times_out() {
    assert_broken_pac_gives_direct(
        "loop",
        "function FindProxyForURL(url, host) { while (true) {} }\n",
        &[TIMED_OUT],
    );
}

#[test]
fn endless_loop_while_loading_times_out() {
    assert_broken_pac_gives_direct(
        "loop-at-load",
        "for (;;) {}\nfunction FindProxyForURL(url, host) { return \"PROXY a:1\"; }\n",
        &[TIMED_OUT],
    );
}

/// QuickJS concatenates strings as ropes (no copy), so plain doubling reaches its string
/// length limit (2^30 - 1) long before the 32 MiB memory limit.
#[test]
fn string_doubling_hits_the_string_length_limit() {
    assert_broken_pac_gives_direct(
        "doubling",
        "function FindProxyForURL(url, host) {\n  var s = 'x';\n  while (true) { s = s + s; }\n}\n",
        &["PAC file threw an exception: InternalError: string too long"],
    );
}

/// Doubling that reads the string (which flattens the rope) allocates for real.
#[test]
fn string_doubling_read_back_runs_out_of_memory() {
    assert_broken_pac_gives_direct(
        "doubling-flat",
        "function FindProxyForURL(url, host) {\n  var s = 'x';\n  while (true) { s = s + s; s.charCodeAt(s.length - 1); }\n}\n",
        &[OUT_OF_MEMORY],
    );
}

#[test]
fn one_huge_string_runs_out_of_memory() {
    assert_broken_pac_gives_direct(
        "repeat",
        "function FindProxyForURL(url, host) { return 'PROXY ' + 'x'.repeat(1 << 28) + ':1'; }\n",
        &[OUT_OF_MEMORY],
    );
}

/// Many small arrays: QuickJS runs out of memory while it cannot even build the error, and
/// throws `null`; mppd must still say that memory ran out.
#[test]
fn giant_array_runs_out_of_memory() {
    assert_broken_pac_gives_direct(
        "giant-array",
        "function FindProxyForURL(url, host) {\n  var a = [];\n  for (var i = 0; ; i++) { a.push([i, i, i, i, i, i, i, i]); }\n}\n",
        &[OUT_OF_MEMORY],
    );
}

#[test]
fn deep_recursion_overflows_the_stack() {
    assert_broken_pac_gives_direct(
        "recursion",
        "function f(n) { return f(n + 1) + 1; }\nfunction FindProxyForURL(url, host) { return 'PROXY a:' + f(0); }\n",
        &["PAC evaluation overflowed the stack (recursion too deep, limit 512 KiB)"],
    );
}

#[test]
fn syntax_error_is_reported() {
    assert_broken_pac_gives_direct(
        "syntax",
        "function FindProxyForURL(url, host) {\n  return \"DIRECT\";\n",
        &["PAC file has a syntax error"],
    );
}

#[test]
fn number_answer_is_not_a_string() {
    assert_broken_pac_gives_direct(
        "number",
        "function FindProxyForURL(url, host) { return 8080; }\n",
        &["FindProxyForURL returned int, not a string"],
    );
}

#[test]
fn undefined_answer_is_not_a_string() {
    assert_broken_pac_gives_direct(
        "undefined",
        "function FindProxyForURL(url, host) { if (host == 'never') return 'DIRECT'; }\n",
        &["FindProxyForURL returned undefined, not a string"],
    );
}

#[test]
fn missing_find_proxy_for_url_is_reported() {
    assert_broken_pac_gives_direct(
        "no-function",
        "function findProxy(url, host) { return \"PROXY a:1\"; }\n",
        &["PAC file defines no function FindProxyForURL"],
    );
}

#[test]
fn throw_is_reported() {
    assert_broken_pac_gives_direct(
        "throw",
        "function FindProxyForURL(url, host) { throw new Error('pac boom'); }\n",
        &["PAC file threw an exception: Error: pac boom"],
    );
}

#[test]
fn missing_pac_file_invalid_url_and_usage_errors_have_their_exit_codes() {
    let sandbox = Sandbox::new();
    let pac = sandbox.write(
        "ok.pac",
        "function FindProxyForURL(url, host) { return \"DIRECT\"; }\n",
    );
    let missing = sandbox.dir.path().join("missing.pac");
    sandbox
        .mppd(&["proxy", "find", "--pac", s(&missing), "http://example.com/"])
        .expect_code(1, "missing --pac file");
    sandbox
        .mppd(&["proxy", "find", "--pac", s(&pac), "not a url"])
        .expect_code(1, "invalid URL");
    sandbox
        .mppd(&[
            "proxy",
            "find",
            "--pac",
            s(&pac),
            "--no-such-option",
            "http://a/",
        ])
        .expect_code(2, "unknown option");
    let run = sandbox.mppd(&["proxy", "find", "--pac", s(&pac), "http://example.com/"]);
    run.expect_code(0, "a working PAC file");
    assert_eq!(run.stdout, "DIRECT\nproxy: DIRECT\n");
}
