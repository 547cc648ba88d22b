// Validates the KEDA objects of a rendered manifest against KEDA's own
// schemas (@kubernetes-models/keda): kubernetes-validate has none for them.
import yaml from 'js-yaml';
import fs from 'node:fs';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
let n = 0;
for (const doc of yaml.loadAll(fs.readFileSync(process.argv[2], 'utf8'))) {
  if (!doc?.apiVersion?.startsWith('keda.sh/')) continue;
  const Kind = keda[doc.kind];
  if (!Kind) throw new Error(`no schema for ${doc.kind}`);
  new Kind(doc).validate();
  n++;
}
console.log(`keda: ${n} objects valid`);
