# Developer entry points. AWS deployment: see docs/aws.md.
#   make test                      lint, type-check and run the test suite (scripts/test.sh)
#   make demo                      the local demo (scripts/demo.sh)
#   make build-lambda              build deploy/dist/lambda and deploy/dist/layer (needs PyPI)
#   make cdk-synth                 synthesise the CloudFormation template offline (deploy/cdk/cdk.out)
#   make cdk-diff / cdk-deploy     compare with / deploy to the AWS account of your credentials
#   make cdk-test                  the CDK stack tests

PYTHON ?= .venv/bin/python
# The CDK command line (an npm package), fetched by npx on first use; only diff/deploy/destroy/bootstrap need it.
CDK ?= npx --yes aws-cdk@2
CDK_DEPLOY_FLAGS ?=
# e.g. BUILD_FLAGS="--archetypes my-archetypes" adds archetype YAML files to the layer.
BUILD_FLAGS ?=
CDK_DIR := deploy/cdk
VENV_BIN := $(abspath .venv/bin)
# cdk.json runs `python3 app.py`: put the venv (with the cdk extra) first on PATH.
CDK_ENV := PATH="$(VENV_BIN):$$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1

.PHONY: test demo install-cdk build-lambda lock-lambda cdk-synth cdk-diff cdk-deploy cdk-destroy cdk-bootstrap cdk-test

test:
	scripts/test.sh

demo:
	scripts/demo.sh

install-cdk:
	scripts/bootstrap.sh
	$(PYTHON) -m pip install -q -e ".[cdk]"

build-lambda:
	$(PYTHON) deploy/build_lambda.py $(BUILD_FLAGS)

lock-lambda:
	$(PYTHON) deploy/build_lambda.py --lock

cdk-synth:
	cd $(CDK_DIR) && $(CDK_ENV) python3 app.py

cdk-diff:
	cd $(CDK_DIR) && $(CDK_ENV) $(CDK) diff

cdk-deploy:
	cd $(CDK_DIR) && $(CDK_ENV) $(CDK) deploy $(CDK_DEPLOY_FLAGS)

cdk-destroy:
	cd $(CDK_DIR) && $(CDK_ENV) $(CDK) destroy

cdk-bootstrap:
	cd $(CDK_DIR) && $(CDK_ENV) $(CDK) bootstrap

cdk-test:
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/aws/test_cdk_stack.py
