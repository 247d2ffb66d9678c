"""The AWS CDK app that deploys Interlock's AWS mode (DynamoDB, Lambda, Step Functions, SNS).

``config`` reads the deployment settings without importing aws-cdk-lib, so a bad setting fails in
milliseconds; ``stack`` builds the CloudFormation stack from a :class:`~interlock_cdk.config.StackConfig`.
"""
