package sharepoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	"github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/sites"

	"github.com/syncd/syncd/connectors"
)

var registerOnce sync.Once

// registerSerializers does what msgraph-sdk-go's root package does when a
// client is built; the root package is not imported (it pulls in every
// request builder of Graph and multiplies build cost).
func registerSerializers() {
	registerOnce.Do(func() {
		abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return jsonser.NewJsonSerializationWriterFactory() })
		abs.RegisterDefaultSerializer(func() absser.SerializationWriterFactory { return textser.NewTextSerializationWriterFactory() })
		abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return jsonser.NewJsonParseNodeFactory() })
		abs.RegisterDefaultDeserializer(func() absser.ParseNodeFactory { return textser.NewTextParseNodeFactory() })
	})
}

// graph is the msgraph-sdk-go client for the few routes the connector uses.
type graph struct {
	base    string
	adapter *msgraphgocore.GraphRequestAdapterBase
	drives  *drives.DrivesRequestBuilder
	sites   *sites.SitesRequestBuilder
}

func newGraph(o *Options, tr http.RoundTripper) (*graph, error) {
	registerSerializers()
	kmw, err := khttp.GetDefaultMiddlewaresWithOptions(&khttp.RetryHandlerOptions{
		// Retries and throttling are the transport's (shared governor).
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
	})
	if err != nil {
		return nil, err
	}
	opts := msgraphgocore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	mw := append([]khttp.Middleware{msgraphgocore.NewGraphTelemetryHandler(&opts)}, kmw...)
	hc := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(tr, mw...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	auth, err := authProvider(o, &http.Client{Transport: tr, Timeout: 2 * time.Minute})
	if err != nil {
		return nil, err
	}
	pnf := lenientFactory{absser.DefaultParseNodeFactoryInstance}
	ad, err := msgraphgocore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, opts, pnf, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("graph adapter: %w", err)
	}
	ad.SetBaseUrl(o.GraphURL)
	return &graph{base: o.GraphURL, adapter: ad,
		// Not the raw-URL constructors: their URL would stick to every
		// child builder.
		drives: drives.NewDrivesRequestBuilderInternal(map[string]string{"baseurl": o.GraphURL}, ad),
		sites:  sites.NewSitesRequestBuilderInternal(map[string]string{"baseurl": o.GraphURL}, ad)}, nil
}

// site resolves "host:/sites/path" or a site id to the site's id.
func (g *graph) site(ctx context.Context, key string) (string, error) {
	var b *sites.SiteItemRequestBuilder
	if host, p, ok := strings.Cut(key, ":/"); ok {
		segs := strings.Split(strings.Trim(p, "/:"), "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		b = sites.NewSiteItemRequestBuilder(g.base+"/sites/"+url.PathEscape(host)+":/"+strings.Join(segs, "/"), g.adapter)
	} else {
		b = g.sites.BySiteId(key)
	}
	st, err := b.Get(ctx, nil)
	if err != nil {
		return "", apiErr("get site "+key, err)
	}
	return deref(st.GetId()), nil
}

type driveRef struct{ ID, Name, Site string }

// siteDrives lists the document libraries of a site.
func (g *graph) siteDrives(ctx context.Context, siteID string) ([]driveRef, error) {
	var out []driveRef
	resp, err := g.sites.BySiteId(siteID).Drives().Get(ctx, nil)
	for {
		if err != nil {
			return nil, apiErr("list drives of site "+siteID, err)
		}
		for _, d := range resp.GetValue() {
			out = append(out, driveRef{ID: deref(d.GetId()), Name: deref(d.GetName()), Site: siteID})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = sites.NewItemDrivesRequestBuilder(next, g.adapter).Get(ctx, nil)
	}
}

// drive gets a drive by id, or a user's OneDrive when user is set.
func (g *graph) drive(ctx context.Context, id, user string) (driveRef, error) {
	b, what := g.drives.ByDriveId(id), "get drive "+id
	if user != "" {
		b, what = drives.NewDriveItemRequestBuilder(g.base+"/users/"+url.PathEscape(user)+"/drive", g.adapter), "get drive of user "+user
	}
	d, err := b.Get(ctx, nil)
	if err != nil {
		return driveRef{}, apiErr(what, err)
	}
	return driveRef{ID: deref(d.GetId()), Name: deref(d.GetName())}, nil
}

// deltaPage fetches one delta page: from the start when link is "", else
// the saved nextLink/deltaLink.
func (g *graph) deltaPage(ctx context.Context, driveID, link string) ([]models.DriveItemable, string, string, error) {
	b := g.drives.ByDriveId(driveID).Items().ByDriveItemId("root").Delta()
	if link != "" {
		b = drives.NewItemItemsItemDeltaRequestBuilder(link, g.adapter)
	}
	resp, err := b.GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		return nil, "", "", apiErr("delta of drive "+driveID, err)
	}
	return resp.GetValue(), deref(resp.GetOdataNextLink()), deref(resp.GetOdataDeltaLink()), nil
}

// item gets one driveItem.
func (g *graph) item(ctx context.Context, driveID, itemID string) (models.DriveItemable, error) {
	di, err := g.drives.ByDriveId(driveID).Items().ByDriveItemId(itemID).Get(ctx, nil)
	if err != nil {
		return nil, apiErr("get item "+itemID, err)
	}
	return di, nil
}

// versions lists an item's versions, newest first as Graph returns them.
func (g *graph) versions(ctx context.Context, driveID, itemID string) ([]models.DriveItemVersionable, error) {
	var out []models.DriveItemVersionable
	resp, err := g.drives.ByDriveId(driveID).Items().ByDriveItemId(itemID).Versions().Get(ctx, nil)
	for {
		if err != nil {
			return nil, apiErr("list versions of item "+itemID, err)
		}
		out = append(out, resp.GetValue()...)
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = drives.NewItemItemsItemVersionsRequestBuilder(next, g.adapter).Get(ctx, nil)
	}
}

// contentRequest builds the authenticated GET of a version's content
// (/content for the current one), to be sent with the download client.
func (g *graph) contentRequest(ctx context.Context, driveID, itemID, versionID string, current bool) (*http.Request, error) {
	ib := g.drives.ByDriveId(driveID).Items().ByDriveItemId(itemID)
	var ri *abs.RequestInformation
	var err error
	if current {
		ri, err = ib.Content().ToGetRequestInformation(ctx, nil)
	} else {
		ri, err = ib.Versions().ByDriveItemVersionId(versionID).Content().ToGetRequestInformation(ctx, nil)
	}
	if err != nil {
		return nil, err
	}
	nr, err := g.adapter.ConvertToNativeRequest(ctx, ri)
	if err != nil {
		return nil, fmt.Errorf("authenticate request: %w", err)
	}
	req, ok := nr.(*http.Request)
	if !ok {
		return nil, fmt.Errorf("unexpected native request %T", nr)
	}
	return req, nil
}

// Errors.
var (
	errResync = errors.New("delta token expired (resync required)")
	errAuth   = errors.New("authentication failed")
)

// statusError is a Graph error response.
type statusError struct {
	Op       string
	Status   int
	Code     string
	Message  string
	Location string
	kind     error
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *statusError) Unwrap() error { return e.kind }

// apiErr turns a kiota error into a statusError classified by status
// (Retryable for throttling and server errors), or wraps a transport error.
func apiErr(op string, err error) error {
	var ae abs.ApiErrorable
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return connectors.Retryable{Err: fmt.Errorf("%s: %w", op, err)}
	}
	se := &statusError{Op: op, Status: ae.GetStatusCode()}
	if h := ae.GetResponseHeaders(); h != nil {
		if l := h.Get("Location"); len(l) > 0 {
			se.Location = l[0]
		}
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		se.Code, se.Message = deref(oe.GetErrorEscaped().GetCode()), deref(oe.GetErrorEscaped().GetMessage())
	}
	return classify(se)
}

func classify(se *statusError) error {
	switch {
	case se.Status == http.StatusGone:
		se.kind = errResync
	case se.Status == http.StatusNotFound:
		se.kind = connectors.ErrNotFound
	case se.Status == http.StatusForbidden:
		se.kind = connectors.ErrPermission
	case se.Status == http.StatusUnauthorized:
		se.kind = errAuth
	case se.Status == http.StatusTooManyRequests || se.Status >= 500:
		return connectors.Retryable{Err: se}
	}
	return se
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}
