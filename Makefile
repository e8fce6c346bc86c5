# nl2api-deploy: one command to set up, one to test everything; each tier also runs alone.
#
#   make test                    # setup + every tier below, then one summary line
#   make deploy ENV=local        # the main job: ansible-playbook site.yml -i inventories/$(ENV)
#   make test-real-app NL2API_SRC=<nl2api checkout>   # the image tests against the real application (skipped without)
#
# Tiers: lint (yamllint, ansible-lint, syntax-check, hadolint, helm-lint), sanity, units, test-functional, molecule.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/collections
export PYTHONDONTWRITEBYTECODE := 1

ENV ?= local
PYTEST_ARGS ?=
# pytest-xdist workers for the functional tier; the harness shares one dockerd between them (flock).
PYTEST_WORKERS ?= 2
PLAYBOOKS := site.yml $(wildcard playbooks/*.yml)
DOCKERFILES := $(wildcard docker/Dockerfile*)
CHARTS := $(patsubst %/Chart.yaml,%,$(wildcard deploy/helm/*/Chart.yaml))
HELM_VALUES := $(wildcard deploy/helm/environments/*.yaml)

.PHONY: help setup test deploy lint yamllint ansible-lint syntax-check hadolint helm-lint sanity units \
	test-functional test-real-app molecule clean

help:
	@grep -E '^#( |$$)' Makefile | sed 's/^# \{0,1\}//'

setup:
	@scripts/setup.sh

test: setup
	@scripts/test-all.sh

deploy: setup
	ansible-playbook site.yml -i inventories/$(ENV)

lint: yamllint ansible-lint syntax-check hadolint helm-lint

yamllint:
	yamllint --strict .

ansible-lint:
	ansible-lint --profile production

syntax-check:
	@for playbook in $(PLAYBOOKS); do \
	  [ -f "$$playbook" ] || continue; \
	  for inventory in inventories/*/; do \
	    echo "syntax-check $$playbook -i $$inventory"; \
	    ansible-playbook --syntax-check -i "$$inventory" "$$playbook" >/dev/null; \
	  done; \
	done

hadolint:
	@if [ -z "$(DOCKERFILES)" ]; then echo "hadolint: no Dockerfiles under docker/"; exit 0; fi; \
	hadolint --config docker/.hadolint.yaml $(DOCKERFILES) && echo "hadolint: $(DOCKERFILES) clean"

helm-lint:
	@if [ -z "$(CHARTS)" ]; then echo "helm-lint: no charts under deploy/helm/"; exit 0; fi; \
	for chart in $(CHARTS); do \
	  helm lint --strict "$$chart"; \
	  for values in $(HELM_VALUES); do helm lint --strict "$$chart" -f "$$values"; done; \
	done

sanity:
	scripts/ansible-test.sh sanity

units:
	scripts/ansible-test.sh units

test-functional:
	python -m pytest tests/functional -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-real-app:
	@if [ -z "$(NL2API_SRC)" ]; then \
	  echo "test-real-app: skipped: NL2API_SRC is not set (make test-real-app NL2API_SRC=/path/to/nl2api-checkout)"; \
	  exit 0; \
	fi; \
	NL2API_SRC="$(NL2API_SRC)" python -m pytest tests/functional/images -n 0 -p no:cacheprovider $(PYTEST_ARGS)

molecule:
	scripts/molecule.sh

clean:
	rm -rf .cache build tests/output .pytest_cache .hypothesis
