#!/usr/bin/env node
// Writes a linear ONNX model y = x·W + b (MatMul + Add) with no Python and no npm packages:
// the ONNX protobuf is encoded by hand below (field numbers from onnx/onnx.proto3).
//
//   node scripts/e2e/make-linear-onnx.js OUT.onnx --w '[[1,2],[3,4],[5,6]]' --b '[0.5,-0.5]'
//   node scripts/e2e/make-linear-onnx.js --fixtures     # (re)writes test/e2e/fixtures/model-v{1,2}
//
// Input 'x': float32 [N, K] (N is the symbolic dim 'N'); output 'y': float32 [N, M];
// initializers 'W' float32 [K, M] and 'b' float32 [M]. ir_version 8, default-domain opset 13.
// The output is byte-for-byte deterministic for the same W and b.
'use strict';
const fs = require('fs');
const path = require('path');

// ---- protobuf wire encoding (only what ModelProto needs) ------------------------------------
function varint(n) {
  let v = BigInt(n);
  if (v < 0n) throw new Error(`negative varint ${n}`);
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}
const tag = (field, wireType) => varint((field << 3) | wireType);
/** field of wire type 0 (int32/int64/enum) */
const fInt = (field, n) => Buffer.concat([tag(field, 0), varint(n)]);
/** field of wire type 2 (string/bytes/embedded message) */
const fBytes = (field, buf) => {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf, 'utf8');
  return Buffer.concat([tag(field, 2), varint(b.length), b]);
};
const msg = (...parts) => Buffer.concat(parts);

// ---- ONNX messages ---------------------------------------------------------------------------
const FLOAT = 1; // TensorProto.DataType.FLOAT

function tensorFloat(name, dims, values) {
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  // TensorProto: 1 dims, 2 data_type, 8 name, 9 raw_data (little-endian)
  return msg(...dims.map((d) => fInt(1, d)), fInt(2, FLOAT), fBytes(8, name), fBytes(9, raw));
}

function valueInfo(name, dims) {
  // TensorShapeProto.Dimension: 1 dim_value | 2 dim_param
  const shape = msg(...dims.map((d) => fBytes(1, typeof d === 'number' ? fInt(1, d) : fBytes(2, d))));
  // TypeProto.Tensor: 1 elem_type, 2 shape; TypeProto: 1 tensor_type; ValueInfoProto: 1 name, 2 type
  const tensorType = msg(fInt(1, FLOAT), fBytes(2, shape));
  return msg(fBytes(1, name), fBytes(2, fBytes(1, tensorType)));
}

function node(opType, inputs, outputs, name) {
  // NodeProto: 1 input, 2 output, 3 name, 4 op_type
  return msg(...inputs.map((i) => fBytes(1, i)), ...outputs.map((o) => fBytes(2, o)), fBytes(3, name), fBytes(4, opType));
}

function linearModel(W, b) {
  const K = W.length;
  const M = W[0].length;
  if (!W.every((row) => row.length === M)) throw new Error('W must be rectangular');
  if (b.length !== M) throw new Error(`b must have ${M} values`);
  // GraphProto: 1 node, 2 name, 5 initializer, 11 input, 12 output
  const graph = msg(
    fBytes(1, node('MatMul', ['x', 'W'], ['xW'], 'matmul')),
    fBytes(1, node('Add', ['xW', 'b'], ['y'], 'add')),
    fBytes(2, 'linear'),
    fBytes(5, tensorFloat('W', [K, M], W.flat())),
    fBytes(5, tensorFloat('b', [M], b)),
    fBytes(11, valueInfo('x', ['N', K])),
    fBytes(12, valueInfo('y', ['N', M])),
  );
  // ModelProto: 1 ir_version, 2 producer_name, 3 producer_version, 7 graph, 8 opset_import
  // OperatorSetIdProto: 1 domain ('' = ai.onnx, omitted), 2 version
  return msg(fInt(1, 8), fBytes(2, 'make-linear-onnx.js'), fBytes(3, '1'), fBytes(7, graph), fBytes(8, fInt(2, 13)));
}

// ---- CLI ---------------------------------------------------------------------------------------
const FIXTURES = {
  'model-v1': { W: [[1, 2], [3, 4], [5, 6]], b: [0.5, -0.5] },
  'model-v2': { W: [[2, 4], [6, 8], [10, 12]], b: [1, 1] },
};

function write(file, W, b) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bytes = linearModel(W, b);
  fs.writeFileSync(file, bytes);
  console.log(`${file}: ${bytes.length} bytes, W=${JSON.stringify(W)} b=${JSON.stringify(b)}`);
}

function main(argv) {
  if (argv[0] === '--fixtures') {
    const dir = path.join(__dirname, '..', '..', 'test', 'e2e', 'fixtures');
    for (const [name, { W, b }] of Object.entries(FIXTURES)) write(path.join(dir, name, 'model.onnx'), W, b);
    return;
  }
  const out = argv[0];
  const opt = (flag) => {
    const i = argv.indexOf(flag);
    return i > 0 ? JSON.parse(argv[i + 1]) : undefined;
  };
  const W = opt('--w');
  const b = opt('--b');
  if (!out || out.startsWith('--') || !W || !b) {
    console.error("usage: make-linear-onnx.js OUT.onnx --w '[[..],..]' --b '[..]'  |  make-linear-onnx.js --fixtures");
    process.exit(2);
  }
  write(out, W, b);
}

module.exports = { linearModel, FIXTURES };
if (require.main === module) main(process.argv.slice(2));
