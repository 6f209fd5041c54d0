// A credanchor credential, judged by the standard VC stack wallets and verifiers use: Digital Bazaar's
// @digitalbazaar/vc with Data Integrity proofs (eddsa-rdfc-2022 and eddsa-jcs-2022), all pinned in
// package.json.
//
//   node vc-verify.mjs CREDENTIAL.json CONTROLLER.json CONTEXTS_DIR
//
// CREDENTIAL.json is a credential or a credanchor receipt (its `credential` member is taken). CONTROLLER.json
// is the issuer's exported DID document (did:web) or controller document (https issuer id). CONTEXTS_DIR is
// credanchor's anchoring/contexts/: the URL -> file mapping and each file's sha256 are read from its
// __init__.py (BUNDLED), so there is one source of truth.
//
// The document loader is offline: it serves only those contexts (byte-checked), the controller document for
// its id, and each of its verification methods for the method's id. Anything else throws.
//
// Prints one JSON line {"verified": bool, "error": ...}; exit 0 if verified, 1 if not, 2 on a usage error.

import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';

// eddsa-jcs-2022-cryptosuite 1.0.0 exports factories, not a `cryptosuite` object like the rdfc one
const eddsaJcs2022CryptoSuite = createVerifyCryptosuite();
const MULTIKEY_CONTEXT = 'https://w3id.org/security/multikey/v1';

function bundledContexts(dir) {
  const source = readFileSync(join(dir, '__init__.py'), 'utf8');
  const pattern = /"(https?:\/\/[^"]+)":\s*Bundled\(\s*"([^"]+)",\s*"([0-9a-f]{64})"\s*\)/g;
  const contexts = new Map();
  for(const [, url, filename, sha256] of source.matchAll(pattern)) {
    const bytes = readFileSync(join(dir, filename));
    const digest = createHash('sha256').update(bytes).digest('hex');
    if(digest !== sha256) {
      throw new Error(`context ${filename} has sha256 ${digest}, expected ${sha256}`);
    }
    contexts.set(url, JSON.parse(bytes.toString('utf8')));
  }
  if(contexts.size === 0) {
    throw new Error(`no bundled contexts found in ${join(dir, '__init__.py')}`);
  }
  return contexts;
}

function offlineLoader(contexts, controller) {
  const documents = new Map(contexts);
  if(typeof controller.id !== 'string') {
    throw new Error('controller document has no string id');
  }
  documents.set(controller.id, controller);
  for(const method of controller.verificationMethod ?? []) {
    // A verification method resolved on its own, as DB's DID resolvers return it: with the Multikey context.
    documents.set(method.id, {'@context': MULTIKEY_CONTEXT, ...method});
  }
  return async url => {
    if(!documents.has(url)) {
      throw new Error(`offline document loader: ${url} is not served`);
    }
    // a fresh copy each time: the libraries may mutate what they load
    return {contextUrl: null, documentUrl: url, document: structuredClone(documents.get(url))};
  };
}

function report(verified, error) {
  process.stdout.write(JSON.stringify({verified, error}) + '\n');
  process.exitCode = verified ? 0 : 1;
}

function errorText(error) {
  if(!error) {
    return null;
  }
  if(Array.isArray(error)) {
    return error.map(errorText).join('; ');
  }
  if(error.errors) {
    return `${error.message}: ${errorText(error.errors)}`;
  }
  const cause = error.details?.cause ?? error.cause;
  const message = error.message ?? String(error);
  return cause ? `${message} (cause: ${errorText(cause)})` : message;
}

async function main(argv) {
  if(argv.length !== 3) {
    process.stderr.write('usage: node vc-verify.mjs CREDENTIAL.json CONTROLLER.json CONTEXTS_DIR\n');
    process.exitCode = 2;
    return;
  }
  const [credentialPath, controllerPath, contextsDir] = argv;
  const loaded = JSON.parse(readFileSync(credentialPath, 'utf8'));
  const credential = loaded.credential ?? loaded;
  const controller = JSON.parse(readFileSync(controllerPath, 'utf8'));
  const documentLoader = offlineLoader(bundledContexts(contextsDir), controller);
  const suite = [
    new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite}),
    new DataIntegrityProof({cryptosuite: eddsaJcs2022CryptoSuite})
  ];
  const result = await vc.verifyCredential({credential, suite, documentLoader});
  if(result.verified) {
    report(true, null);
    return;
  }
  const proofErrors = (result.results ?? []).filter(r => !r.verified).map(r => r.error);
  report(false, errorText(result.error ?? proofErrors) || 'not verified');
}

main(process.argv.slice(2)).catch(error => report(false, errorText(error)));
