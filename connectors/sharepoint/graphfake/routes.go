package graphfake

import (
	"net/url"
	"strings"
)

// target is a parsed request path.
type target struct {
	route   string
	site    string // site id or "host:/path"
	drive   string
	user    string
	item    string // "" = root when route needs an item
	version string
	token   string // download token
}

func splitPath(escaped string) ([]string, bool) {
	escaped = strings.TrimPrefix(escaped, "/")
	escaped = strings.TrimPrefix(escaped, "v1.0/")
	raw := strings.Split(strings.TrimSuffix(escaped, "/"), "/")
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, false
		}
		out = append(out, u)
	}
	return out, true
}

func route(segs []string) string { return parse(segs).route }

func parse(segs []string) target {
	if len(segs) == 0 {
		return target{}
	}
	if isAuthRoute(segs) {
		return target{route: RouteAuth}
	}
	switch segs[0] {
	case "download":
		if len(segs) == 2 {
			return target{route: RouteDownload, token: segs[1]}
		}
	case "sites":
		return parseSite(strings.Join(segs[1:], "/"))
	case "users":
		if len(segs) == 3 && segs[2] == "drive" {
			return target{route: RouteDrive, user: segs[1]}
		}
	case "drives":
		if len(segs) >= 2 {
			t := parseDriveTail(segs[2:])
			t.drive = segs[1]
			return t
		}
	}
	return target{}
}

// parseSite handles "id", "id/drives", "host:/sites/x", "host:/sites/x:/drives".
func parseSite(rest string) target {
	var key, tail string
	if host, after, ok := strings.Cut(rest, ":/"); ok {
		p, t, _ := strings.Cut(after, ":")
		key, tail = host+":/"+strings.TrimSuffix(p, "/"), strings.Trim(t, "/")
	} else {
		key, tail, _ = strings.Cut(rest, "/")
	}
	switch tail {
	case "":
		return target{route: RouteSite, site: key}
	case "drives":
		return target{route: RouteDrives, site: key}
	case "drive":
		return target{route: RouteDrive, site: key}
	}
	return target{}
}

func parseDriveTail(tail []string) target {
	if len(tail) == 0 {
		return target{route: RouteDrive}
	}
	var t target
	switch {
	case tail[0] == "root":
		tail = tail[1:]
	case tail[0] == "items" && len(tail) >= 2:
		t.item, tail = tail[1], tail[2:]
		if t.item == "root" {
			t.item = ""
		}
	default:
		return target{}
	}
	switch {
	case len(tail) == 0:
		t.route = RouteItem
	case len(tail) == 1 && (tail[0] == "delta()" || tail[0] == "delta"):
		t.route = RouteDelta
	case len(tail) == 1 && tail[0] == "content":
		t.route = RouteContent
	case len(tail) == 1 && tail[0] == "versions":
		t.route = RouteVersions
	case len(tail) == 2 && tail[0] == "versions":
		t.route, t.version = RouteVersion, tail[1]
	case len(tail) == 3 && tail[0] == "versions" && tail[2] == "content":
		t.route, t.version = RouteVersionContent, tail[1]
	}
	return t
}
