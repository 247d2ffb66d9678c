#!/usr/bin/env node
// Validate Amazon States Language files with amazon-states-language-service (the validator behind
// the AWS Toolkit): schema, dangling Next/Default targets, unreachable states, missing terminal states.
// Usage: node validate.js <file.asl.json> ...   Exit status 1 when any file has errors or warnings.
'use strict';
const fs = require('fs');
const { getLanguageService, TextDocument, DiagnosticSeverity } = require('amazon-states-language-service');

const SEVERITY = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };

async function validate(path) {
  const text = fs.readFileSync(path, 'utf8');
  const service = getLanguageService({});
  const document = TextDocument.create(`file://${path}`, 'json', 1, text);
  const diagnostics = await service.doValidation(document, service.parseJSONDocument(document));
  return diagnostics.map((d) => ({
    file: path,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    severity: SEVERITY[d.severity] || String(d.severity),
    message: d.message,
  }));
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node validate.js <file.asl.json> ...');
    process.exit(2);
  }
  let problems = [];
  for (const file of files) {
    problems = problems.concat(await validate(file));
  }
  console.log(JSON.stringify(problems, null, 2));
  const blocking = problems.filter((p) => p.severity === 'error' || p.severity === 'warning');
  process.exit(blocking.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(2);
});
