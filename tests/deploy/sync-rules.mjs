// Writes deploy/k8s/monitoring/prometheusrule.yaml from deploy/prometheus/autosync-rules.yml,
// the single source of the alert rules: `node tests/deploy/sync-rules.mjs` after editing them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const rulesFile = path.join(root, 'deploy/prometheus/autosync-rules.yml');
export const prometheusRuleFile = path.join(root, 'deploy/k8s/monitoring/prometheusrule.yaml');

export function renderPrometheusRule() {
  const rules = yaml.load(fs.readFileSync(rulesFile, 'utf8'));
  const object = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'autosync' },
    spec: { groups: rules.groups },
  };
  return '# GENERATED from deploy/prometheus/autosync-rules.yml (the single source) by\n' +
    '# tests/deploy/sync-rules.mjs; tests/deploy checks that both stay equal.\n' +
    yaml.dump(object, { lineWidth: 100 });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(prometheusRuleFile, renderPrometheusRule());
  console.log(`wrote ${path.relative(root, prometheusRuleFile)}`);
}
