// Validates the custom resources of a rendered manifest against their
// operators' own schemas (@kubernetes-models/keda, @kubernetes-models/
// cloudnative-pg): kubernetes-validate has none for them. Fails on a kind
// it has no schema for, and on a manifest holding none of them.
import yaml from 'js-yaml';
import fs from 'node:fs';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as cnpg from '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1';

const groups = { 'keda.sh/v1alpha1': keda, 'postgresql.cnpg.io/v1': cnpg };
const counted = {};
for (const doc of yaml.loadAll(fs.readFileSync(process.argv[2], 'utf8'))) {
  const group = groups[doc?.apiVersion];
  if (!group) continue;
  const Kind = group[doc.kind];
  if (!Kind) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Kind(doc).validate();
  counted[doc.kind] = (counted[doc.kind] || 0) + 1;
}
if (Object.keys(counted).length === 0) throw new Error('no custom resources to validate');
console.log(`custom resources valid: ${JSON.stringify(counted)}`);
