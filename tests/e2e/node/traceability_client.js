// TraceabilityService checked by a client that is not ours: @grpc/grpc-js
// links contracts to assets and queries them, and a verifier written here from
// RFC 9162 (Node's own SHA-256) checks every inclusion proof of every answer:
// the leaf hash rebuilt from the link's fields, the audit path up to the
// answer's root. Tampered proofs must fail. One PASS or FAIL line per check.
//   node traceability_client.js PROTO_DIR ADDR
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, addr] = process.argv.slice(2);
const definition = loader.loadSync('aurigraph/traceability/v1/traceability.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const { TraceabilityService } =
  grpc.loadPackageDefinition(definition).aurigraph.traceability.v1;
const client = new TraceabilityService(addr, grpc.credentials.createInsecure());

function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}

let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failed += 1;
}

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const leafText = (l) => `aurigraph-link-v1\n${l.index}\n${l.contract_id}\n${l.asset_id}\n` +
  `${l.relation}\n${l.linked_at_unix_nanos}\n`;
const leafHash = (l) => sha256(Buffer.from([0]), Buffer.from(leafText(l)));

// RFC 9162 section 2.1.3.2, with BigInt indexes.
function verify(index, treeSize, leaf, path, root) {
  let fn = BigInt(index);
  let sn = BigInt(treeSize) - 1n;
  if (fn > sn) return false;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = sha256(Buffer.from([1]), p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = sha256(Buffer.from([1]), r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}

function allProven(response) {
  return response.links.every((p) =>
    leafHash(p.link).equals(p.leaf_hash) &&
    verify(p.link.index, response.tree_size, leafHash(p.link), p.audit_path, response.root_hash));
}

async function main() {
  // A chain of 14 links: contract c0 - asset a0 - contract c1 - ... - contract c7, plus 40
  // more assets on c0.
  let proofsChecked = 0;
  for (let i = 0; i < 7; i++) {
    const first = await call('LinkContractToAsset', { contract_id: `node-c${i}`, asset_id: `node-a${i}`, relation: 'tokenizes' });
    const second = await call('LinkContractToAsset', { contract_id: `node-c${i + 1}`, asset_id: `node-a${i}`, relation: 'references' });
    for (const r of [first, second]) {
      if (!allProven(r)) check(false, `the proof of link ${r.links[0].link.index}`);
      proofsChecked += 1;
    }
  }
  for (let i = 0; i < 40; i++) {
    const r = await call('LinkContractToAsset', { contract_id: 'node-c0', asset_id: `node-extra-${i}`, relation: 'secures' });
    if (!allProven(r)) check(false, `the proof of link ${r.links[0].link.index}`);
    proofsChecked += 1;
  }
  check(failed === 0, `every link's own proof verifies (${proofsChecked} links)`);

  let pages = 0;
  let token = '';
  const assets = new Set();
  do {
    const page = await call('GetAssetsByContract', { contract_id: 'node-c0', limit: 15, page_token: token });
    check(allProven(page), `GetAssetsByContract page ${pages + 1}: ${page.links.length} proofs verify against tree ${page.tree_size}`);
    page.links.forEach((p) => assets.add(p.link.asset_id));
    token = page.next_page_token;
    pages += 1;
  } while (token && pages < 20);
  check(assets.size === 41, `node-c0's 41 assets over ${pages} pages`);

  const lineage = await call('GetCompleteLineage', { contract_id: 'node-c0', max_depth: 16, max_links: 1000 });
  check(lineage.links.length === 54 && !lineage.truncated && allProven(lineage),
        `the lineage of node-c0 reaches all 54 links (14 deep), proven`);
  const near = await call('GetCompleteLineage', { contract_id: 'node-c0', max_depth: 2, max_links: 1000 });
  check(near.truncated && near.links.length === 42 && allProven(near),
        `two links deep: node-c0's 41 and a0's other, then truncated`);
  const found = await call('SearchLinks', { contract_prefix: 'node-c', relation: 'references', limit: 100 });
  check(found.links.length === 7 && allProven(found), 'SearchLinks finds the 7 references, proven');

  const p = lineage.links[5];
  const tampered = Buffer.from(p.audit_path[0]);
  tampered[0] ^= 1;
  check(!verify(p.link.index, lineage.tree_size, leafHash(p.link), [tampered, ...p.audit_path.slice(1)], lineage.root_hash),
        'a changed sibling hash fails');
  const forged = { ...p.link, asset_id: 'forged' };
  check(!verify(p.link.index, lineage.tree_size, leafHash(forged), p.audit_path, lineage.root_hash),
        'a link with a changed field fails');

  try {
    await call('LinkContractToAsset', { contract_id: 'node-c0', asset_id: 'node-a0', relation: 'tokenizes' });
    check(false, 'a duplicate link is refused');
  } catch (error) {
    check(error.code === grpc.status.ALREADY_EXISTS, `a duplicate link: ALREADY_EXISTS (${error.details})`);
  }
}

main().then(() => process.exit(failed ? 1 : 0), (error) => {
  console.log(`FAIL ${error.message}`);
  process.exit(1);
});
