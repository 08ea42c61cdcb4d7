// Command agh-verdicts prints AdGuard Home's verdict (as its filtering
// library, urlfilter, gives it) for each name read from standard input:
// "name<TAB>B|A|U" for blocked, allowed, unlisted. The lists to load are
// the arguments. A query of type A is assumed.
//
// AdGuard Home's own decision on top of urlfilter's result, modelled here:
// a basic network rule decides (an allow rule allows, any other blocks);
// otherwise a hosts-style rule blocks (tacet blocks whatever address a
// hosts line gives; AdGuard Home would answer with it); $dnsrewrite rules
// that answer NXDOMAIN or REFUSED block.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/AdguardTeam/urlfilter"
	"github.com/AdguardTeam/urlfilter/filterlist"
	"github.com/miekg/dns"
)

func main() {
	var lists []filterlist.RuleList
	for i, path := range os.Args[1:] {
		l, err := filterlist.NewFileRuleList(i+1, path, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		lists = append(lists, l)
	}
	storage, err := filterlist.NewRuleStorage(lists)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	engine := urlfilter.NewDNSEngine(storage)
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		name := strings.ToLower(strings.TrimSpace(in.Text()))
		if name == "" {
			continue
		}
		fmt.Fprintf(out, "%s\t%s\n", name, verdict(engine, name))
	}
}

func verdict(engine *urlfilter.DNSEngine, name string) string {
	res, _ := engine.MatchRequest(&urlfilter.DNSRequest{Hostname: name, DNSType: dns.TypeA})
	if res == nil {
		return "U"
	}
	for _, r := range res.NetworkRules {
		if r.DNSRewrite != nil && !r.Whitelist &&
			(r.DNSRewrite.RCode == dns.RcodeNameError || r.DNSRewrite.RCode == dns.RcodeRefused) {
			return "B"
		}
	}
	if r := res.NetworkRule; r != nil {
		if r.Whitelist {
			return "A"
		}
		return "B"
	}
	if len(res.HostRulesV4) > 0 || len(res.HostRulesV6) > 0 {
		return "B"
	}
	return "U"
}
