package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bulkhead-sec/bulkhead/internal/sbom"
)

// Client calls a Bulkhead inventory server. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
	ua    string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (for mTLS: a client whose transport
// carries the agent's certificate).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// NewClient returns a client for the server at baseURL ("https://host:8443";
// a trailing "/api/v1" is accepted). token may be empty when a client
// certificate authenticates the agent.
func NewClient(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://HOST[:PORT]", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, Prefix)
	c := &Client{base: u.String(), token: token, hc: &http.Client{Timeout: 60 * time.Second}, ua: "bulkhead"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// StatusError is a non-2xx answer from the server.
type StatusError struct {
	Code    int
	Message string
	Field   string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("server answered %d", e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// Retryable reports whether a request that failed with err may succeed
// if sent again unchanged: network errors, 408, 429 and 5xx. Other 4xx
// answers (bad token, invalid batch, too large) will not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return !errors.Is(err, context.Canceled)
}

// do sends a request with a JSON (or raw) body and decodes a JSON answer
// into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "application/octet-stream"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	u := c.base + Prefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		se := &StatusError{Code: resp.StatusCode}
		var e Error
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			se.Message, se.Field = e.Error, e.Field
		} else {
			se.Message = strings.TrimSpace(string(raw))
		}
		return se
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Ingest sends one batch. On success every item with Seq <= AckSeq is stored.
func (c *Client) Ingest(ctx context.Context, b Batch) (IngestResponse, error) {
	var r IngestResponse
	err := c.do(ctx, http.MethodPost, "/ingest", nil, b, &r)
	return r, err
}

// Enroll registers the agent and returns its id.
func (c *Client) Enroll(ctx context.Context, r EnrollRequest) (EnrollResponse, error) {
	var out EnrollResponse
	err := c.do(ctx, http.MethodPost, "/agents/enroll", nil, r, &out)
	return out, err
}

// HasImage reports whether the server already stores the image with id
// (its config digest) with an SBOM, so an agent can skip scanning it.
func (c *Client) HasImage(ctx context.Context, id string) (bool, error) {
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id), url.Values{"fields": {"id"}}, nil, nil)
	if err == nil {
		return true, nil
	}
	if IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// Values renders f as URL query parameters.
func (f Filter) Values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("selector", f.Selector)
	set("image", f.Image)
	set("tag", f.Tag)
	set("host", f.Host)
	set("state", f.State)
	set("package", f.Package)
	set("version", f.Version)
	set("severity", f.Severity)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	return q
}

// Impact answers "which images, containers and hosts does vulnerability id
// (CVE or alias) hit?".
func (c *Client) Impact(ctx context.Context, id string, f Filter) (*Impact, error) {
	var out Impact
	err := c.do(ctx, http.MethodGet, "/vulnerabilities/"+url.PathEscape(id)+"/impact", f.Values(), nil, &out)
	return &out, err
}

// Containers searches containers.
func (c *Client) Containers(ctx context.Context, f Filter) (*ContainerList, error) {
	var out ContainerList
	err := c.do(ctx, http.MethodGet, "/containers", f.Values(), nil, &out)
	return &out, err
}

// Container returns one container.
func (c *Client) Container(ctx context.Context, id string) (*Container, error) {
	var out Container
	err := c.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id), nil, nil, &out)
	return &out, err
}

// Images searches images.
func (c *Client) Images(ctx context.Context, f Filter) (*ImageList, error) {
	var out ImageList
	err := c.do(ctx, http.MethodGet, "/images", f.Values(), nil, &out)
	return &out, err
}

// Image returns one image with its layers (not its SBOM: see ImageSBOM).
func (c *Client) Image(ctx context.Context, id string) (*Image, error) {
	var out Image
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id), nil, nil, &out)
	return &out, err
}

// ImageSBOM returns the stored SBOM of an image.
func (c *Client) ImageSBOM(ctx context.Context, id string) (*sbom.SBOM, error) {
	var out sbom.SBOM
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id)+"/sbom", nil, nil, &out)
	return &out, err
}

// ImagePackages lists an image's packages.
func (c *Client) ImagePackages(ctx context.Context, id string) (*PackageList, error) {
	var out PackageList
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id)+"/packages", nil, nil, &out)
	return &out, err
}

// ImageFindings lists an image's findings; resolved ones too when all is set.
func (c *Client) ImageFindings(ctx context.Context, id string, all bool) (*FindingList, error) {
	var out FindingList
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id)+"/findings", boolQuery("all", all), nil, &out)
	return &out, err
}

// ImageContainers lists the containers of an image.
func (c *Client) ImageContainers(ctx context.Context, id string, f Filter) (*ContainerList, error) {
	var out ContainerList
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id)+"/containers", f.Values(), nil, &out)
	return &out, err
}

// ImagePosture summarises an image's open vulnerabilities.
func (c *Client) ImagePosture(ctx context.Context, id string) (*Posture, error) {
	var out Posture
	err := c.do(ctx, http.MethodGet, "/images/"+url.PathEscape(id)+"/posture", nil, nil, &out)
	return &out, err
}

// Layer returns a layer and the images sharing it.
func (c *Client) Layer(ctx context.Context, diffID string) (*LayerInfo, error) {
	var out LayerInfo
	err := c.do(ctx, http.MethodGet, "/layers/"+url.PathEscape(diffID), nil, nil, &out)
	return &out, err
}

// Hosts searches hosts.
func (c *Client) Hosts(ctx context.Context, f Filter) (*HostList, error) {
	var out HostList
	err := c.do(ctx, http.MethodGet, "/hosts", f.Values(), nil, &out)
	return &out, err
}

// Host returns one host.
func (c *Client) Host(ctx context.Context, name string) (*Host, error) {
	var out Host
	err := c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(name), nil, nil, &out)
	return &out, err
}

// HostContainers lists a host's containers.
func (c *Client) HostContainers(ctx context.Context, name string, f Filter) (*ContainerList, error) {
	var out ContainerList
	err := c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(name)+"/containers", f.Values(), nil, &out)
	return &out, err
}

// HostPackages lists the packages of a host's own filesystem.
func (c *Client) HostPackages(ctx context.Context, name string) (*PackageList, error) {
	var out PackageList
	err := c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(name)+"/packages", nil, nil, &out)
	return &out, err
}

// HostFindings lists a host's own findings (host scan, runtime, compliance).
func (c *Client) HostFindings(ctx context.Context, name string, all bool) (*FindingList, error) {
	var out FindingList
	err := c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(name)+"/findings", boolQuery("all", all), nil, &out)
	return &out, err
}

// ContainerFindings lists a container's runtime and other findings.
func (c *Client) ContainerFindings(ctx context.Context, id string, all bool) (*FindingList, error) {
	var out FindingList
	err := c.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/findings", boolQuery("all", all), nil, &out)
	return &out, err
}

// HostPosture summarises a host: its own packages and its containers' images.
func (c *Client) HostPosture(ctx context.Context, name string) (*Posture, error) {
	var out Posture
	err := c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(name)+"/posture", nil, nil, &out)
	return &out, err
}

// Packages searches packages by name (and version range in f.Version).
func (c *Client) Packages(ctx context.Context, f Filter) (*PackageList, error) {
	var out PackageList
	q := f.Values()
	if f.Package != "" {
		q.Del("package")
		q.Set("name", f.Package)
	}
	err := c.do(ctx, http.MethodGet, "/packages", q, nil, &out)
	return &out, err
}

// Agents lists enrolled agents.
func (c *Client) Agents(ctx context.Context) ([]Agent, error) {
	var out []Agent
	err := c.do(ctx, http.MethodGet, "/agents", nil, nil, &out)
	return out, err
}

// CreateToken issues a token; the answer's Secret is shown only once.
func (c *Client) CreateToken(ctx context.Context, r TokenRequest) (*Token, error) {
	var out Token
	err := c.do(ctx, http.MethodPost, "/tokens", nil, r, &out)
	return &out, err
}

// Tokens lists issued tokens (without secrets).
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out []Token
	err := c.do(ctx, http.MethodGet, "/tokens", nil, nil, &out)
	return out, err
}

// RevokeToken revokes a token by id.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// Audit returns the newest audit entries (limit 0: the server's default).
func (c *Client) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.do(ctx, http.MethodGet, "/audit", q, nil, &out)
	return out, err
}

// ImportDB uploads an advisory file (OSV JSON or zip, Debian tracker,
// Alpine secdb, KEV, EPSS) or a signed bundle; format may be "auto". The
// server re-matches every stored package afterwards.
func (c *Client) ImportDB(ctx context.Context, format string, body io.Reader) (*DBImportResponse, error) {
	var out DBImportResponse
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	err := c.do(ctx, http.MethodPost, "/db/import", q, body, &out)
	return &out, err
}

// DBStatus describes the server's advisory database.
func (c *Client) DBStatus(ctx context.Context) (*DBStatus, error) {
	var out DBStatus
	err := c.do(ctx, http.MethodGet, "/db/status", nil, nil, &out)
	return &out, err
}

func boolQuery(k string, v bool) url.Values {
	if !v {
		return nil
	}
	return url.Values{k: {"true"}}
}
