package fakeaws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const maxBody = 1 << 20

// readOperation reads the request body and names the operation: the
// X-Amz-Target of JSON calls, or sts.<Action> of query-protocol calls.
func readOperation(r *http.Request) ([]byte, string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, "", fmt.Errorf("reading the request body: %w", err)
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return body, t, nil
	}
	form, err := parseForm(body)
	if err != nil || form.Get("Action") == "" {
		return body, "", errors.New("no X-Amz-Target header and no Action parameter")
	}
	return body, "sts." + form.Get("Action"), nil
}

func parseForm(body []byte) (url.Values, error) {
	return url.ParseQuery(string(body))
}

// authorization is the parsed SigV4 Authorization header.
type authorization struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

func parseAuthorization(h string) (authorization, bool) {
	var a authorization
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, false
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return a, false
			}
			a.keyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a, a.keyID != "" && a.signature != "" && len(a.signedHeaders) > 0
}

// regionOf is the region the request was signed for, us-east-1 if none.
func regionOf(r *http.Request) string {
	if a, ok := parseAuthorization(r.Header.Get("Authorization")); ok {
		return a.region
	}
	return "us-east-1"
}

// verify checks the request's SigV4 signature by signing a copy that holds
// only the signed headers with the secret key lookup knows for the access
// key, as AWS does. It returns the access key id and, on failure, the
// error code and message AWS's JSON services answer.
func verify(r *http.Request, body []byte, service string, lookup func(string) (Credentials, bool)) (keyID, code, msg string) {
	auth, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return "", "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	creds, known := lookup(auth.keyID)
	if !known {
		return auth.keyID, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if creds.SessionToken != r.Header.Get("X-Amz-Security-Token") {
		return auth.keyID, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if service != "" && auth.service != service {
		return auth.keyID, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || when.Format("20060102") != auth.date {
		return auth.keyID, "IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope"
	}

	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return auth.keyID, "IncompleteSignatureException", err.Error()
	}
	req.Host = r.Host
	req.ContentLength = 0
	for _, name := range auth.signedHeaders {
		switch name {
		case "host", "x-amz-date", "x-amz-security-token":
			// the signer sets these from the host, the time and the token
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if v, ok := r.Header[http.CanonicalHeaderKey(name)]; ok {
				req.Header[http.CanonicalHeaderKey(name)] = v
			}
		}
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload {
		return auth.keyID, "InvalidSignatureException", "The provided payload hash does not match the body."
	}
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
	}, req, payload, auth.service, auth.region, when)
	if err != nil {
		return auth.keyID, "InvalidSignatureException", err.Error()
	}
	want, ok := parseAuthorization(req.Header.Get("Authorization"))
	if !ok || want.signature != auth.signature {
		return auth.keyID, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	}
	return auth.keyID, "", ""
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}
