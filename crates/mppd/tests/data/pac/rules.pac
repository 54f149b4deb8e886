// rules.pac: the PAC file of mppd's differential test against pacparser's pactester (issue 8).
//
// Every rule is marked `// rule N` and ends in a `return` of its own literal string (no two
// rules return the same string), so the test can check both that there are at least 30 rules
// and that urls.txt reaches every one of them. The names it resolves are those of the `hosts`
// file next to it (gen_urls.py writes both); the test runs pactester and mppd in a private
// mount and network namespace whose /etc/hosts is that file, with myIpAddress pinned to
// 10.1.2.3.
//
// It keeps away from the places where pacparser is quirky and mppd deliberately differs:
// - time helpers only where the answer cannot change during a run (weekdayRange("SUN", "SAT"),
//   timeRange(0, 23), dateRange(2000, 2099) are always true; dateRange(1995) and a 1995 date
//   range always false);
// - isInNetEx only on IP address strings, never on a host name;
// - isResolvableEx only on names that resolve (pacparser's dnsResolveEx answers "" for a name
//   that does not, so its isResolvableEx, which tests `!= null`, is always true);
// - answers of dnsResolveEx used only through their number of addresses or one address of a
//   name that has a single one (the order of several addresses is the resolver's);
// - shExpMatch patterns without `[`; no IPv6 literals in URLs; only well-formed isInNet masks.

var IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

function FindProxyForURL(url, host) {
    // rule 1: the intranet's front page, plain or qualified.
    if (localHostOrDomainIs(host, "www.corp.example"))
        return "DIRECT";

    if (isPlainHostName(host)) {
        // rule 2: plain names of the LAN (they are in /etc/hosts).
        if (isResolvable(host))
            return "PROXY lan-plain.corp.example:8001";
        // rule 3: other plain names.
        return "PROXY plain-unresolved.corp.example:8002; DIRECT";
    }

    // rule 4: multicast DNS names.
    if (shExpMatch(host, "*.local"))
        return "SOCKS5 mdns-gw.corp.example:1080";

    if (IPV4.test(host)) {
        // rule 5: the corporate 10/8 network.
        if (isInNetEx(host, "10.0.0.0/8"))
            return "PROXY ten-net.corp.example:8010";
        // rule 6: the 172.16/12 labs, through an HTTPS proxy.
        if (isInNet(host, "172.16.0.0", "255.240.0.0"))
            return "HTTPS secure-gw.corp.example:8443";
        // rule 7: 192.168/16.
        if (isInNet(host, "192.168.0.0", "255.255.0.0"))
            return "PROXY home-gw.corp.example:3128; DIRECT";
        // rule 8: loopback.
        if (isInNet(host, "127.0.0.0", "255.0.0.0"))
            return "PROXY loopback-gw.corp.example:3129; DIRECT";
        // rule 9: carrier-grade NAT space.
        if (isInNetEx(host, "100.64.0.0/10"))
            return "SOCKS5 cgnat-a.corp.example:1081; SOCKS5 cgnat-b.corp.example:1081";
        // rule 10: any other address literal.
        return "PROXY public-a.corp.example:8080; PROXY public-b.corp.example:8080; DIRECT";
    }

    if (dnsDomainIs(host, ".corp.example")) {
        // rule 11: administration pages over plain HTTP.
        if (shExpMatch(url, "http://*.corp.example/admin/*"))
            return "PROXY admin-gw.corp.example:9000";
        // rule 12: names four levels deep or more.
        if (dnsDomainLevels(host) >= 4)
            return "PROXY deep.corp.example:8004";
        var ex = dnsResolveEx(host);
        // rule 13: names with several addresses (IPv4, or IPv4 and IPv6).
        if (ex && ex.split(";").length > 1)
            return "PROXY multihomed.corp.example:8011; DIRECT";
        var ip = dnsResolve(host);
        // rule 14: the core network (isInNet on the resolved address).
        if (ip && isInNet(ip, "10.20.30.0", "255.255.255.0"))
            return "PROXY core-net.corp.example:8005; DIRECT";
        // rule 15: the campus (isInNet resolving the name itself).
        if (isInNet(host, "10.20.0.0", "255.255.0.0"))
            return "PROXY campus.corp.example:8006";
        // rule 16: the labs (isInNetEx on the resolved address).
        if (ip && isInNetEx(ip, "172.16.0.0/12"))
            return "HTTPS lab-gw.corp.example:8443";
        // rule 17: any other IPv4 address.
        if (ip)
            return "PROXY corp-other.corp.example:8008";
        if (dnsDomainIs(host, ".v6.corp.example") && isResolvableEx(host)) {
            // rule 18: IPv6-only names in fd00:10::/32.
            if (isInNetEx(dnsResolveEx(host), "fd00:10::/32"))
                return "PROXY v6-gw.corp.example:8007";
            // rule 19: other IPv6-only names.
            return "PROXY v6-other.corp.example:8017; DIRECT";
        }
        // rule 20: corporate names that do not resolve.
        return "PROXY corp-a.corp.example:8009; PROXY corp-b.corp.example:8009; DIRECT";
    }

    // rule 21: PDF documents, whatever the host.
    if (shExpMatch(url, "*.pdf"))
        return "PROXY docs-cache.example.com:8081";
    // rule 22: downloads over plain HTTP.
    if (shExpMatch(url, "http://*/download/*"))
        return "PROXY dl.example.com:8083";
    // rule 23: anything on port 8080.
    if (shExpMatch(url, "*://*:8080/*"))
        return "PROXY alt-port.example.com:8084";
    // rule 24: the bank, only over HTTPS.
    if (url.substring(0, 6) == "https:" && dnsDomainIs(host, ".bank.example"))
        return "HTTPS bank-gw.example.com:443";
    // rule 25: numbered CDN nodes (cdn0 to cdn9).
    if (shExpMatch(host, "cdn?.example.org"))
        return "PROXY cdn-cache.example.com:8082; DIRECT";

    // rule 26: the branch office, chosen by the phone's own address.
    if (dnsDomainIs(host, ".branch.example") && isInNet(myIpAddress(), "10.1.0.0", "255.255.0.0"))
        return "PROXY branch-proxy.branch.example:3128";
    // rule 27: the lab, chosen by the phone's own addresses (Microsoft's extension).
    if (dnsDomainIs(host, ".lab.example") && isInNetEx(myIpAddressEx().split(";")[0], "10.1.2.0/24"))
        return "PROXY lab-ex.lab.example:3129";

    if (dnsDomainIs(host, ".example.net")) {
        // rule 28: the partner's names that resolve.
        if (isResolvable(host))
            return "PROXY partner.example.com:8085";
        // rule 29: the partner's other names.
        return "PROXY partner-unresolved.example.com:8086; DIRECT";
    }

    // rule 30: news, every day of the week.
    if (dnsDomainIs(host, ".news.example") && weekdayRange("SUN", "SAT"))
        return "PROXY news.example.com:8087";
    // rule 31: video, at any hour (local time and GMT).
    if (dnsDomainIs(host, ".video.example") && timeRange(0, 23) && timeRange(0, 23, "GMT"))
        return "PROXY video-a.example.com:8088; PROXY video-b.example.com:8088";
    // rule 32: the archive, any year of this century but not 1995.
    if (dnsDomainIs(host, ".archive.example") && !dateRange(1995) && dateRange(2000, 2099))
        return "SOCKS5 archive.example.com:1082";
    // rule 33: the shop, any weekday (GMT), outside 1995.
    if (dnsDomainIs(host, ".shop.example") && weekdayRange("SUN", "SAT", "GMT")
            && !dateRange(1, "JAN", 1995, 31, "DEC", 1995))
        return "PROXY shop.example.com:8089";

    // rule 34: the 198.51.100.0/24 test network (isInNet resolving the name).
    if (isInNet(host, "198.51.100.0", "255.255.255.0"))
        return "PROXY testnet2.example.com:8092";
    var eip = dnsResolve(host);
    // rule 35: the 203.0.113.0/24 test network (isInNetEx on the resolved address).
    if (eip && isInNetEx(eip, "203.0.113.0/24"))
        return "PROXY testnet3.example.com:8093";
    // rule 36: other names that resolve.
    if (eip)
        return "PROXY resolved.example.com:8094; DIRECT";
    // rule 37: bare domains (one dot).
    if (dnsDomainLevels(host) == 1)
        return "PROXY apex.example.com:8090";
    // rule 38: deep names (four dots or more).
    if (dnsDomainLevels(host) >= 4)
        return "PROXY deep-external.example.com:8091";
    // rule 39: everything else.
    return "PROXY default-a.example.com:3128; PROXY default-b.example.com:3128; DIRECT";
}
