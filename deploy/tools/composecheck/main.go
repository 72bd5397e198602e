// Command composecheck loads docker-compose.yml with docker compose's own loader
// (github.com/compose-spec/compose-go/v2: interpolation, .env, profiles, schema validation,
// depends_on consistency) once per backend profile, and checks what the issue asks of the
// stack. It stands in for `docker compose config`, which needs the compose plugin.
//
//	go run . ../../../docker-compose.yml
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type scenario struct {
	profiles []string // --profile flags; none: COMPOSE_PROFILES from .env
	backend  string   // the vLLM-compatible service thinkgate must wait for
	services []string // exactly the services that start
}

var scenarios = []scenario{
	// redis: the quota store of named keys (issue 17), in every profile.
	{nil, "vllm", []string{"grafana", "prometheus", "redis", "thinkgate", "vllm"}},
	{[]string{"cpu"}, "vllm-cpu", []string{"grafana", "prometheus", "redis", "thinkgate", "vllm-cpu"}},
	{[]string{"sim"}, "sim", []string{"grafana", "prometheus", "redis", "sim", "thinkgate"}},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck docker-compose.yml")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	check(err)
	failures := 0
	for _, sc := range scenarios {
		name := "default (.env)"
		if sc.profiles != nil {
			name = "--profile " + strings.Join(sc.profiles, ",")
		}
		problems := run(file, sc)
		if len(problems) == 0 {
			fmt.Printf("   ok   %-18s services: %s\n", name, strings.Join(sc.services, ", "))
			continue
		}
		failures++
		for _, p := range problems {
			fmt.Printf("   FAIL %-18s %s\n", name, p)
		}
	}
	if failures > 0 {
		os.Exit(1)
	}
}

func run(file string, sc scenario) (problems []string) {
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	// A fixed environment (no OS variables) so that the result does not depend on the shell.
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv([]string{}),
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(sc.profiles...),
	)
	if err != nil {
		return []string{err.Error()}
	}
	project, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		return []string{err.Error()}
	}
	got := project.ServiceNames()
	sort.Strings(got)
	if !slices.Equal(got, sc.services) {
		fail("services %v, want %v", got, sc.services)
	}

	tg, err := project.GetService("thinkgate")
	if err != nil {
		return append(problems, err.Error())
	}
	if dep, ok := tg.DependsOn[sc.backend]; !ok || dep.Condition != types.ServiceConditionHealthy {
		fail("thinkgate must wait for %s to be healthy, depends_on: %v", sc.backend, tg.DependsOn)
	}
	if dep, ok := tg.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		fail("thinkgate must wait for redis (its quota store) to be healthy, depends_on: %v", tg.DependsOn)
	}
	if u := tg.Environment["THINKGATE_QUOTA_REDIS_URL"]; u == nil || *u != "redis://redis:6379/0" {
		fail("thinkgate THINKGATE_QUOTA_REDIS_URL must be redis://redis:6379/0")
	}
	if tg.Environment["THINKGATE_UPSTREAMS"] == nil || *tg.Environment["THINKGATE_UPSTREAMS"] != "http://vllm:8000" {
		fail("thinkgate THINKGATE_UPSTREAMS must be http://vllm:8000")
	}
	if !tg.ReadOnly || !slices.Contains(tg.Tmpfs, "/tmp") {
		fail("thinkgate must run with a read-only root filesystem and a /tmp tmpfs")
	}
	if tg.HealthCheck == nil || !strings.Contains(strings.Join(tg.HealthCheck.Test, " "), "/ready") {
		fail("thinkgate health check must probe /ready")
	}

	be, err := project.GetService(sc.backend)
	if err != nil {
		return append(problems, err.Error())
	}
	if be.HealthCheck == nil || len(be.HealthCheck.Test) == 0 {
		fail("%s has no health check, so depends_on cannot gate on it", sc.backend)
	}
	reachable := sc.backend == "vllm"
	for _, n := range be.Networks {
		if n != nil && slices.Contains(n.Aliases, "vllm") {
			reachable = true
		}
	}
	if !reachable {
		fail("%s must answer at http://vllm:8000 (service name or network alias)", sc.backend)
	}
	if sc.backend != "sim" && !slices.Contains(be.Command, "--enable-prompt-tokens-details") {
		fail("%s must run with --enable-prompt-tokens-details", sc.backend)
	}
	if sc.backend == "vllm" {
		gpu := false
		if be.Deploy != nil && be.Deploy.Resources.Reservations != nil {
			for _, d := range be.Deploy.Resources.Reservations.Devices {
				gpu = gpu || (d.Driver == "nvidia" && slices.Contains(d.Capabilities, "gpu"))
			}
		}
		if !gpu {
			fail("vllm must reserve an NVIDIA GPU")
		}
		if !slices.Contains(be.Command, "--model=Qwen/Qwen3-8B") {
			fail("vllm model must come from MODEL in .env (Qwen/Qwen3-8B), command: %v", be.Command)
		}
	}
	for _, s := range []string{"prometheus", "grafana"} {
		if _, err := project.GetService(s); err != nil {
			fail("%s missing", s)
		}
	}
	return problems
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
