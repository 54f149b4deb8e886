#!/usr/bin/env python3
"""Writes urls.txt (1,000 URLs) and hosts (the /etc/hosts of the test's private namespace) for
rules.pac, deterministically (fixed seed): run it from anywhere, commit both outputs.

    python3 crates/mppd/tests/data/pac/gen_urls.py

The URLs reach every rule of rules.pac (proxy_pac.rs checks that pactester's answers contain
every string the PAC file returns). They keep to what both pactester and a URL parser read the
same way: lower-case hosts, no user info, no IPv6 literals, no default port written out, a path
of unreserved characters. Names under .v6.corp.example all resolve (rules.pac calls
isResolvableEx on them only).

pacparser 1.3.6's dnsResolveEx allocates one byte (strlen of an empty buffer, plus one) and then
copies the whole answer into it: answers longer than 23 characters overflow the 24 usable bytes
of glibc's smallest heap chunk and pactester aborts a few hundred URLs later ("free(): invalid
next size"). So every name that rules.pac gives to dnsResolveEx/isResolvableEx has addresses
that fit in 23 characters once joined with ";" (checked below).
"""

import os
import random

SEED = 20261125
COUNT = 1000
HERE = os.path.dirname(os.path.abspath(__file__))

# name -> addresses, in the order of the hosts file.
HOSTS = {
    # plain names of the LAN (rule 2)
    "printer": ["10.20.40.9"],
    "fileserver": ["10.20.40.10"],
    "intranet": ["10.20.30.5"],
    # the intranet's front page (rule 1)
    "www.corp.example": ["10.20.30.2"],
    # core network (rule 14)
    "intranet.corp.example": ["10.20.30.40"],
    "wiki.corp.example": ["10.20.30.41"],
    "git.corp.example": ["10.20.30.42"],
    # campus (rule 15)
    "mail.corp.example": ["10.20.31.5"],
    "voip.corp.example": ["10.20.50.6"],
    "tftp.corp.example": ["10.20.60.7"],
    # labs (rule 16)
    "build.corp.example": ["172.16.5.10"],
    "ci.corp.example": ["172.20.1.2"],
    # other corporate addresses (rule 17)
    "hr.corp.example": ["192.0.2.10"],
    "legacy.corp.example": ["10.99.0.1"],
    # several addresses (rule 13)
    "multi.corp.example": ["10.20.30.50", "10.20.30.51"],
    "mirror.corp.example": ["10.20.70.1", "10.20.70.2"],
    "dual.corp.example": ["10.20.30.60", "fd00:10::60"],
    # IPv6 only (rules 18 and 19)
    "git.v6.corp.example": ["fd00:10::5"],
    "sip.v6.corp.example": ["fd00:10::6"],
    "old.v6.corp.example": ["fd00:20::7"],
    # partner (rule 28)
    "partner.example.net": ["203.0.113.10"],
    "portal.example.net": ["198.51.100.20"],
    # test networks (rules 34 and 35)
    "cdn.example.org": ["198.51.100.7"],
    "static.example.com": ["198.51.100.8"],
    "api.example.com": ["203.0.113.20"],
    "upload.example.com": ["203.0.113.21"],
    # other names that resolve (rule 36)
    "www.example.com": ["192.0.2.80"],
    "mirror.debian.example": ["192.0.2.81"],
    "time.example.org": ["192.0.2.82"],
}

# category -> (hosts, schemes, path kind)
CATEGORIES = [
    ("www", ["www", "www.corp.example"], ["http", "https"], "any"),
    ("plain-resolvable", ["printer", "fileserver", "intranet"], ["http", "https"], "any"),
    ("plain-unresolved", ["nas", "jira", "pbx", "router", "wiki", "cups"], ["http", "https"], "any"),
    ("mdns", ["printer.local", "nas.local", "phone-42.local", "conf-room.local"], ["http", "https"], "any"),
    ("ip-10", "ip:10", ["http", "https"], "any"),
    ("ip-172", "ip:172", ["http", "https"], "any"),
    ("ip-192", "ip:192", ["http", "https"], "any"),
    ("ip-127", "ip:127", ["http", "https"], "any"),
    ("ip-cgnat", "ip:100", ["http", "https"], "any"),
    ("ip-public", "ip:public", ["http", "https"], "any"),
    ("corp-admin", ["intranet.corp.example", "wiki.corp.example", "jira.corp.example",
                    "hr.corp.example"], ["http"], "admin"),
    ("corp-deep", ["build.eu.lab.corp.example", "a.b.c.corp.example",
                   "sip.pod1.dc2.corp.example", "x.y.z.w.corp.example"], ["http", "https"], "any"),
    ("corp-multi", ["multi.corp.example", "mirror.corp.example", "dual.corp.example"],
     ["http", "https"], "any"),
    ("corp-core", ["intranet.corp.example", "wiki.corp.example", "git.corp.example"],
     ["http", "https"], "any"),
    ("corp-campus", ["mail.corp.example", "voip.corp.example", "tftp.corp.example"],
     ["http", "https"], "any"),
    ("corp-lab", ["build.corp.example", "ci.corp.example"], ["http", "https"], "any"),
    ("corp-other", ["hr.corp.example", "legacy.corp.example"], ["http", "https"], "any"),
    ("corp-v6", ["git.v6.corp.example", "sip.v6.corp.example"], ["http", "https"], "any"),
    ("corp-v6-other", ["old.v6.corp.example"], ["http", "https"], "any"),
    ("corp-unresolved", ["jira.corp.example", "old.corp.example", "temp.corp.example",
                         "crm.corp.example"], ["http", "https"], "any"),
    ("pdf", ["docs.vendor.example", "www.example.com", "manuals.example.org",
             "files.example.net"], ["http", "https"], "pdf"),
    ("download", ["files.vendor.example", "software.example.org", "get.example.io"], ["http"],
     "download"),
    ("port-8080", ["api.vendor.example", "status.example.org", "app.example.io"],
     ["http", "https"], "port8080"),
    ("bank", ["www.bank.example", "online.bank.example", "api.bank.example"], ["https"], "any"),
    ("bank-http", ["www.bank.example", "online.bank.example"], ["http"], "any"),
    ("cdn", ["cdn%d.example.org" % i for i in range(10)], ["http", "https"], "any"),
    ("branch", ["pbx.branch.example", "files.branch.example", "sip.branch.example"],
     ["http", "https"], "any"),
    ("lab", ["sim.lab.example", "bench.lab.example"], ["http", "https"], "any"),
    ("partner", ["partner.example.net", "portal.example.net"], ["http", "https"], "any"),
    ("partner-unresolved", ["api.example.net", "sso.example.net", "www.example.net"],
     ["http", "https"], "any"),
    ("news", ["www.news.example", "feeds.news.example", "m.news.example"], ["http", "https"],
     "any"),
    ("video", ["stream.video.example", "www.video.example"], ["http", "https"], "any"),
    ("archive", ["www.archive.example", "web.archive.example"], ["http", "https"], "any"),
    ("shop", ["www.shop.example", "checkout.shop.example"], ["http", "https"], "any"),
    ("testnet2", ["cdn.example.org", "static.example.com"], ["http", "https"], "any"),
    ("testnet3", ["api.example.com", "upload.example.com"], ["http", "https"], "any"),
    ("resolved", ["www.example.com", "mirror.debian.example", "time.example.org"],
     ["http", "https"], "any"),
    ("apex", ["example.com", "vendor.example", "sipgate.example", "cisco.example"],
     ["http", "https"], "any"),
    ("deep-external", ["a.b.c.d.example.com", "eu.west.1.cloud.example",
                       "x.y.z.w.v.example.org"], ["http", "https"], "any"),
    ("default", ["www.github.example", "updates.vendor.example", "cdn10.example.org",
                 "login.example.io", "ntp.example.org", "webex.example.com"],
     ["http", "https"], "any"),
]

PATHS = [
    "/",
    "/index.html",
    "/api/v1/status",
    "/cfg/SEP001122334455.xml",
    "/images/logo.png",
    "/search?q=sip+phone&lang=en",
    "/a/b/c/d.txt",
    "/phonebook.xml",
    "/firmware/sip88xx.11-3-1.loads",
    "/login?next=/home",
    "/static/app.js",
    "/xsi-actions/v2.0/user/1001/profile",
]

PORTS = [None, None, None, None, None, 8000, 8443, 3128, 8888]


def ip(rng, kind):
    if kind == "10":
        return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    if kind == "172":
        return "172.%d.%d.%d" % (rng.randrange(16, 32), rng.randrange(256), rng.randrange(1, 255))
    if kind == "192":
        return "192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255))
    if kind == "127":
        return "127.%d.%d.%d" % (rng.randrange(2), rng.randrange(2), rng.randrange(1, 10))
    if kind == "100":
        return "100.%d.%d.%d" % (rng.randrange(64, 128), rng.randrange(256), rng.randrange(1, 255))
    # Public, and the edges of the private ranges (just outside them).
    return rng.choice([
        "8.8.8.8", "1.1.1.1", "9.9.9.9", "93.184.216.34", "203.0.113.5", "198.51.100.99",
        "172.32.0.1", "172.15.255.254", "100.128.0.1", "100.63.255.254", "11.0.0.1",
        "192.169.0.1", "126.255.255.254", "128.0.0.1", "%d.%d.%d.%d" % (
            rng.randrange(12, 100), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)),
    ])


def path(rng, kind):
    if kind == "admin":
        return rng.choice(["/admin/", "/admin/users", "/admin/config?section=sip"])
    if kind == "pdf":
        return rng.choice(["/manual.pdf", "/docs/admin-guide-11.3.pdf", "/a/b/release-notes.pdf"])
    if kind == "download":
        return rng.choice(["/download/fw-11.3.1.zip", "/download/", "/download/tools/cli.tar.gz"])
    return rng.choice(PATHS)


def url(rng, category):
    _, hosts, schemes, kind = category
    host = ip(rng, hosts[3:]) if isinstance(hosts, str) else rng.choice(hosts)
    scheme = rng.choice(schemes)
    if kind == "port8080":
        port = 8080
    else:
        port = rng.choice(PORTS)
        # Port 8080 is rule 23's; the others only where no port rule comes first.
        if port is not None and kind in ("pdf", "download"):
            port = None
    authority = host if port is None else "%s:%d" % (host, port)
    return "%s://%s%s" % (scheme, authority, path(rng, kind))


def main():
    for name, addrs in HOSTS.items():
        assert len(";".join(addrs)) <= 23, name
    rng = random.Random(SEED)
    urls = []
    seen = set()
    # Every category at least twice first, then a random mix.
    order = [c for c in CATEGORIES for _ in range(2)]
    while len(urls) < COUNT:
        category = order.pop(0) if order else rng.choice(CATEGORIES)
        u = url(rng, category)
        if u not in seen:
            seen.add(u)
            urls.append(u)
    with open(os.path.join(HERE, "urls.txt"), "w") as f:
        f.write("".join(u + "\n" for u in urls))
    with open(os.path.join(HERE, "hosts"), "w") as f:
        f.write("# Written by gen_urls.py: /etc/hosts of the namespace of proxy_pac.rs and bench-pac.\n")
        f.write("127.0.0.1 localhost\n")
        for name, addrs in HOSTS.items():
            for a in addrs:
                f.write("%s %s\n" % (a, name))


if __name__ == "__main__":
    main()
