package credhelper

import "testing"

func TestNormalizeRegistry(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Docker Hub: every spelling clients use.
		{"https://index.docker.io/v1/", "docker.io"},
		{"https://index.docker.io/v1", "docker.io"},
		{"http://index.docker.io/v1/", "docker.io"},
		{"index.docker.io", "docker.io"},
		{"index.docker.io/", "docker.io"},
		{"registry-1.docker.io", "docker.io"},
		{"https://registry-1.docker.io/v2/", "docker.io"},
		{"docker.io", "docker.io"},
		{"DOCKER.IO", "docker.io"},
		{"https://Index.Docker.IO/v1/", "docker.io"},
		{"docker.io/library/alpine", "docker.io"},
		{"registry.hub.docker.com", "docker.io"},
		{"docker.io:443", "docker.io"},
		{"  docker.io\n", "docker.io"},
		// Ordinary hosts, schemes, paths and repository-scoped keys.
		{"ghcr.io", "ghcr.io"},
		{"GHCR.IO", "ghcr.io"},
		{"https://ghcr.io", "ghcr.io"},
		{"https://ghcr.io/", "ghcr.io"},
		{"https://ghcr.io/v2/", "ghcr.io"},
		{"ghcr.io/owner/repo", "ghcr.io"},
		{"ghcr.io/owner/repo:tag", "ghcr.io"},
		{"https://ghcr.io/v2/owner/repo/manifests/latest", "ghcr.io"},
		{"registry.example.com.", "registry.example.com"},
		{"https://user@registry.example.com/", "registry.example.com"},
		{"registry.example.com?x=1", "registry.example.com"},
		// Ports.
		{"127.0.0.1:5000", "127.0.0.1:5000"},
		{"http://127.0.0.1:5000/v2/", "127.0.0.1:5000"},
		{"localhost:5000/repo", "localhost:5000"},
		{"registry.example.com:443", "registry.example.com"},
		{"https://registry.example.com:8443/v1/", "registry.example.com:8443"},
		{"[::1]:5000", "[::1]:5000"},
		{"http://[::1]:5000/v2/", "[::1]:5000"},
		{"[::1]", "[::1]"},
		{"[2001:DB8::1]:5000", "[2001:db8::1]:5000"},
		// ECR forms are kept as they are (lower case).
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
		{"https://123456789012.DKR.ECR.eu-west-1.amazonaws.com/v2/app", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"},
		{"public.ecr.aws/docker/library/alpine", "public.ecr.aws"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeRegistry(tt.in)
			if err != nil {
				t.Fatalf("NormalizeRegistry(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeRegistry(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeRegistryRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"https://",
		"/v2/",
		"host name.example.com",
		"exa$mple.com",
		":5000",
		"example.com:port",
		"[::1",
		"-leading-dash.example.com",
		"*.example.com",
		"ex\x00ample.com",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := NormalizeRegistry(in)
			if err == nil {
				t.Fatalf("NormalizeRegistry(%q) = %q, want an error", in, got)
			}
		})
	}
}

func TestParseECRHost(t *testing.T) {
	tests := []struct {
		host string
		want ECRRegistry
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", ECRRegistry{Host: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Account: "123456789012", Region: "us-east-1"}},
		{"123456789012.dkr.ecr.eu-central-1.amazonaws.com:443", ECRRegistry{Host: "123456789012.dkr.ecr.eu-central-1.amazonaws.com", Account: "123456789012", Region: "eu-central-1"}},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ECRRegistry{Host: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", Account: "123456789012", Region: "us-gov-west-1", FIPS: true}},
		{"123456789012.dkr.ecr-fips.us-east-2.amazonaws.com", ECRRegistry{Host: "123456789012.dkr.ecr-fips.us-east-2.amazonaws.com", Account: "123456789012", Region: "us-east-2", FIPS: true}},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", ECRRegistry{Host: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", Account: "123456789012", Region: "cn-north-1"}},
		{"123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", ECRRegistry{Host: "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", Account: "123456789012", Region: "eusc-de-east-1"}},
		{"123456789012.dkr-ecr.us-west-2.on.aws", ECRRegistry{Host: "123456789012.dkr-ecr.us-west-2.on.aws", Account: "123456789012", Region: "us-west-2", DualStack: true}},
		{"123456789012.dkr-ecr-fips.us-east-1.on.aws", ECRRegistry{Host: "123456789012.dkr-ecr-fips.us-east-1.on.aws", Account: "123456789012", Region: "us-east-1", FIPS: true, DualStack: true}},
		{"123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", ECRRegistry{Host: "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", Account: "123456789012", Region: "cn-northwest-1", DualStack: true}},
		{"123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", ECRRegistry{Host: "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", Account: "123456789012", Region: "us-isob-east-1"}},
		{"123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", ECRRegistry{Host: "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", Account: "123456789012", Region: "us-iso-east-1"}},
		{"123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", ECRRegistry{Host: "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", Account: "123456789012", Region: "eu-isoe-west-1"}},
		{"123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", ECRRegistry{Host: "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", Account: "123456789012", Region: "us-isof-south-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, ok := ParseECRHost(tt.host)
			if !ok {
				t.Fatalf("ParseECRHost(%q) = not ECR, want %+v", tt.host, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParseECRHost(%q) = %+v, want %+v", tt.host, got, tt.want)
			}
		})
	}
}

func TestParseECRHostRejects(t *testing.T) {
	for _, host := range []string{
		"docker.io",
		"public.ecr.aws",
		"12345678901.dkr.ecr.us-east-1.amazonaws.com",   // 11 digits
		"1234567890123.dkr.ecr.us-east-1.amazonaws.com", // 13 digits
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
		"123456789012.dkr.ecr.us-east-1.example.com",
		"123456789012.ecr.us-east-1.amazonaws.com",
		"x123456789012.dkr.ecr.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr..amazonaws.com",
		"api.ecr.us-east-1.amazonaws.com",
	} {
		t.Run(host, func(t *testing.T) {
			if got, ok := ParseECRHost(host); ok {
				t.Errorf("ParseECRHost(%q) = %+v, want not ECR", host, got)
			}
		})
	}
}

func TestIsECRPublicHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"public.ecr.aws", true},
		{"public.ecr.aws:443", true},
		{"ecr-public.aws.com", true},
		{"ecr.aws", false},
		{"evil-public.ecr.aws", false},
		{"public.ecr.aws.example.com", false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", false},
		{"docker.io", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := IsECRPublicHost(tt.host); got != tt.want {
				t.Errorf("IsECRPublicHost(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in       string
		raw      string
		wildcard bool
	}{
		{"ghcr.io", "ghcr.io", false},
		{"https://index.docker.io/v1/", "docker.io", false},
		{"registry-1.docker.io", "docker.io", false},
		{" Registry.Example.COM:5000 ", "registry.example.com:5000", false},
		{"*.example.com", "*.example.com", true},
		{"*.Example.COM", "*.example.com", true},
		{"*.example.com:5000", "*.example.com:5000", true},
		{"*.corp.example.com", "*.corp.example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parsePattern(tt.in)
			if err != nil {
				t.Fatalf("parsePattern(%q): %v", tt.in, err)
			}
			if p.raw != tt.raw || p.wildcard != tt.wildcard {
				t.Errorf("parsePattern(%q) = {raw %q wildcard %v}, want {raw %q wildcard %v}", tt.in, p.raw, p.wildcard, tt.raw, tt.wildcard)
			}
		})
	}
}

func TestParsePatternRejects(t *testing.T) {
	for _, in := range []string{
		"*",
		"*.",
		"*.com",
		"*.docker.io",
		"a.*.example.com",
		"*example.com",
		"registry.*",
		"**.example.com",
		"",
		"bad host",
	} {
		t.Run(in, func(t *testing.T) {
			if p, err := parsePattern(in); err == nil {
				t.Errorf("parsePattern(%q) = %+v, want an error", in, p)
			}
		})
	}
}

func TestPatternMatches(t *testing.T) {
	tests := []struct {
		pattern, registry string
		want              bool
	}{
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
		{"*.example.com", "a.example.com:5000", false},
		{"*.example.com", "a.example.com.evil.org", false},
		{"*.example.com:5000", "a.example.com:5000", true},
		{"*.example.com:5000", "a.example.com", false},
		{"*.example.com:5000", "a.example.com:50000", false},
		{"ghcr.io", "ghcr.io", true},
		{"ghcr.io", "a.ghcr.io", false},
		{"docker.io", "docker.io", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.registry, func(t *testing.T) {
			p, err := parsePattern(tt.pattern)
			if err != nil {
				t.Fatalf("parsePattern(%q): %v", tt.pattern, err)
			}
			if got := p.matches(tt.registry); got != tt.want {
				t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.registry, got, tt.want)
			}
		})
	}
}
