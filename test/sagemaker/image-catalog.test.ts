import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DLC_TABLE_SOURCE,
  DlcFramework,
  dlcImageUri,
  listDlcVersions,
  resolveDlcImage,
  sageMakerInstanceGpus,
} from '../../lib/targets/sagemaker/image-catalog';
import { ModelDeploymentValidationError } from '../../lib/spec/errors';
import {
  buildTag,
  compareVersions,
  DEFAULT_INPUT_DIR,
  DEFAULT_OUTPUT_FILE,
  generateImageCatalog,
  main,
} from '../../scripts/generate-sagemaker-images';

describe('resolveDlcImage + dlcImageUri', () => {
  test('pytorch 2.3.0 GPU in us-east-1', () => {
    const image = resolveDlcImage(DlcFramework.PYTORCH, '2.3.0', 'gpu');
    expect(image).toMatchObject({ framework: 'pytorch', version: '2.3.0', processor: 'gpu', repository: 'pytorch-inference', tag: '2.3.0-gpu-py311' });
    expect(dlcImageUri(image, 'us-east-1')).toBe('763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3.0-gpu-py311');
  });

  test('pytorch 2.6.0 CPU uses py312', () => {
    expect(dlcImageUri(resolveDlcImage(DlcFramework.PYTORCH, '2.6.0', 'cpu'), 'eu-west-1')).toBe(
      '763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312',
    );
  });

  test('an alias resolves to its full version', () => {
    const image = resolveDlcImage(DlcFramework.PYTORCH, '2.5', 'gpu');
    expect(image.version).toBe('2.5.1');
    expect(image.tag).toBe('2.5.1-gpu-py311');
    expect(resolveDlcImage(DlcFramework.VLLM, '0.21', 'gpu').version).toBe('0.21.0');
  });

  test('undefined version is the newest in the table', () => {
    expect(resolveDlcImage(DlcFramework.PYTORCH, undefined, 'gpu').version).toBe('2.6.0');
    expect(resolveDlcImage(DlcFramework.TRITON, undefined, 'gpu').version).toBe('26.05');
    expect(resolveDlcImage(DlcFramework.XGBOOST, undefined, 'cpu').version).toBe('3.2-0');
    expect(resolveDlcImage(DlcFramework.SKLEARN, undefined, 'cpu').version).toBe('1.4-2-py312');
  });

  test('tensorflow serving tags carry no python version', () => {
    expect(dlcImageUri(resolveDlcImage(DlcFramework.TENSORFLOW, '2.16', 'cpu'), 'us-west-2')).toBe(
      '763104351884.dkr.ecr.us-west-2.amazonaws.com/tensorflow-inference:2.16.1-cpu',
    );
  });

  test('sklearn is CPU only, tag VERSION-cpu-py3, algorithm registry accounts', () => {
    const image = resolveDlcImage(DlcFramework.SKLEARN, '1.2-1', 'cpu');
    expect(dlcImageUri(image, 'us-east-1')).toBe('683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3');
    expect(resolveDlcImage(DlcFramework.SKLEARN, '1.4-2-py312', 'cpu').tag).toBe('1.4-2-py312-cpu-py3');
  });

  test('sklearn GPU throws naming sklearn and gpu', () => {
    expect(() => resolveDlcImage(DlcFramework.SKLEARN, '1.2-1', 'gpu')).toThrow(/sklearn.*'gpu'.*Processors offered: cpu/);
    expect(() => resolveDlcImage(DlcFramework.SKLEARN, undefined, 'gpu')).toThrow(/sklearn/);
  });

  test('vLLM is GPU only', () => {
    expect(() => resolveDlcImage(DlcFramework.VLLM, undefined, 'cpu')).toThrow(/vllm.*'cpu'/);
  });

  test('xgboost: one image, tag = version, for CPU and GPU', () => {
    const cpu = resolveDlcImage(DlcFramework.XGBOOST, '1.7-1', 'cpu');
    const gpu = resolveDlcImage(DlcFramework.XGBOOST, '1.7-1', 'gpu');
    expect(dlcImageUri(cpu, 'us-east-1')).toBe('683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1');
    expect(dlcImageUri(gpu, 'us-east-1')).toBe(dlcImageUri(cpu, 'us-east-1'));
  });

  test('triton: GPU tag has no processor token, CPU tag ends in -cpu', () => {
    expect(dlcImageUri(resolveDlcImage(DlcFramework.TRITON, '25.09', 'gpu'), 'us-east-1')).toBe(
      '763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:25.09-py3',
    );
    expect(resolveDlcImage(DlcFramework.TRITON, '25.09', 'cpu').tag).toBe('25.09-py3-cpu');
  });

  test('vLLM long tags', () => {
    expect(resolveDlcImage(DlcFramework.VLLM, '0.21', 'gpu').tag).toBe('0.21.0-transformers5.8.1-gpu-py312-cu130-ubuntu22.04');
  });

  test('unknown version throws naming framework, the version asked and the versions available', () => {
    expect(() => resolveDlcImage(DlcFramework.PYTORCH, '9.9.9', 'gpu')).toThrow(
      /pytorch 9\.9\.9.*Available versions: 2\.6\.0, 2\.5\.1, 2\.4\.0, 2\.3\.0/,
    );
    // Versions older than the table's window are refused too.
    expect(() => resolveDlcImage(DlcFramework.PYTORCH, '1.13.1', 'gpu')).toThrow(/1\.13\.1/);
  });

  test('unknown region throws naming it and listing the supported regions', () => {
    const image = resolveDlcImage(DlcFramework.PYTORCH, '2.3.0', 'gpu');
    expect(() => dlcImageUri(image, 'xx-nowhere-1')).toThrow(/'xx-nowhere-1'.*Supported regions: .*us-east-1/);
    // pytorch-inference 2.3.0 is not published in the isolated regions (sklearn is).
    expect(() => dlcImageUri(image, 'us-iso-east-1')).toThrow(/pytorch-inference:2\.3\.0-gpu-py311.*'us-iso-east-1'/);
    expect(dlcImageUri(resolveDlcImage(DlcFramework.SKLEARN, '1.2-1', 'cpu'), 'us-iso-east-1')).toBe(
      '833128469047.dkr.ecr.us-iso-east-1.c2s.ic.gov/sagemaker-scikit-learn:1.2-1-cpu-py3',
    );
  });

  test('China regions use the amazonaws.com.cn domain', () => {
    const image = resolveDlcImage(DlcFramework.SKLEARN, '1.2-1', 'cpu');
    expect(dlcImageUri(image, 'cn-north-1')).toBe('450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3');
    expect(dlcImageUri(resolveDlcImage(DlcFramework.PYTORCH, '2.3', 'gpu'), 'cn-northwest-1')).toBe(
      '727897471807.dkr.ecr.cn-northwest-1.amazonaws.com.cn/pytorch-inference:2.3.0-gpu-py311',
    );
  });

  test('unknown framework (from JavaScript) throws listing the frameworks', () => {
    expect(() => resolveDlcImage('mxnet' as DlcFramework, undefined, 'cpu')).toThrow(/mxnet.*pytorch/);
  });
});

describe('listDlcVersions', () => {
  test('newest first, every entry resolvable', () => {
    expect(listDlcVersions(DlcFramework.TENSORFLOW)).toEqual(['2.19.0', '2.18.0', '2.16.1', '2.14.1']);
    for (const fw of Object.values(DlcFramework)) {
      const versions = listDlcVersions(fw);
      expect(versions.length).toBeGreaterThan(0);
      for (const v of versions) {
        const processor = fw === DlcFramework.SKLEARN ? 'cpu' : 'gpu';
        expect(dlcImageUri(resolveDlcImage(fw, v, processor), 'us-east-1')).toMatch(/^\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com\/[a-z0-9-]+:[\w.-]+$/);
      }
    }
  });
});

describe('sageMakerInstanceGpus', () => {
  test('GPU counts and total memory', () => {
    expect(sageMakerInstanceGpus('ml.g5.xlarge')).toEqual({ gpuCount: 1, gpuMemoryMiB: 24576 });
    expect(sageMakerInstanceGpus('ml.p4d.24xlarge')).toEqual({ gpuCount: 8, gpuMemoryMiB: 327680 });
    expect(sageMakerInstanceGpus('ml.g5.12xlarge')?.gpuCount).toBe(4);
  });
  test('CPU and unknown instance types are undefined', () => {
    expect(sageMakerInstanceGpus('ml.m5.xlarge')).toBeUndefined();
    expect(sageMakerInstanceGpus('ml.g5n.xlarge')).toBeUndefined();
    expect(sageMakerInstanceGpus('toString')).toBeUndefined();
  });
});

describe('generator', () => {
  test('DLC_TABLE_SOURCE names the SDK commit', () => {
    expect(DLC_TABLE_SOURCE).toEqual({ repository: 'aws/sagemaker-python-sdk', commit: 'a24812666d258d9d19c9a82d0c9385ca0bd3ba01', date: '2026-08-21' });
  });

  test('version ordering', () => {
    const sorted = ['1.2-1', '0.23-1', '1.4-2-py312', '1.0-1', '0.20.0'].sort(compareVersions);
    expect(sorted).toEqual(['0.20.0', '0.23-1', '1.0-1', '1.2-1', '1.4-2-py312']);
    expect(['2.10.0', '2.9.3', '2.10.1'].sort(compareVersions)).toEqual(['2.9.3', '2.10.0', '2.10.1']);
    expect(['25.09', '26.05', '23.12'].sort(compareVersions)).toEqual(['23.12', '25.09', '26.05']);
  });

  test('tag rules', () => {
    const reg = { 'us-east-1': '1' };
    expect(buildTag('pytorch', '2.3.0', { registries: reg, repository: 'r', py_versions: ['py311'] }, 'gpu')).toBe('2.3.0-gpu-py311');
    expect(buildTag('sagemaker-tritonserver', '23.12', { registries: reg, repository: 'r', tag_prefix: '23.12-py3' }, 'gpu')).toBe('23.12-py3');
    expect(buildTag('xgboost', '1.7-1', { registries: reg, repository: 'r' }, undefined)).toBe('1.7-1');
    expect(buildTag('x', '1.0', { registries: reg, repository: 'r', py_versions: ['py3'], processor_in_tag: false }, 'gpu')).toBe('1.0-py3');
  });

  // The SDK's tables are vendored in the repository (scripts/data/); a missing copy is a failure, not a skip.
  test('regenerating from the vendored SDK tables gives the committed file byte for byte', () => {
    expect(path.relative(path.join(__dirname, '..', '..'), DEFAULT_INPUT_DIR)).toBe(path.join('scripts', 'data', 'sagemaker-image-uris'));
    expect(fs.existsSync(path.join(DEFAULT_INPUT_DIR, 'README.md'))).toBe(true);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlc-catalog-'));
    try {
      const out = path.join(tmp, 'image-catalog.generated.ts');
      main([DEFAULT_INPUT_DIR, out]);
      const committed = fs.readFileSync(DEFAULT_OUTPUT_FILE);
      expect(fs.readFileSync(out).equals(committed)).toBe(true);
      expect(generateImageCatalog(DEFAULT_INPUT_DIR)).toBe(committed.toString('utf8'));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('issue 7, item 8: every catalog refusal is a ModelDeploymentValidationError naming the field', () => {
  const refusal = (fn: () => unknown): ModelDeploymentValidationError => {
    try { fn(); } catch (e) {
      expect(e).toBeInstanceOf(ModelDeploymentValidationError);
      return e as ModelDeploymentValidationError;
    }
    throw new Error('expected a refusal');
  };

  test.each([
    ['an unknown framework', () => resolveDlcImage('mxnet' as DlcFramework, undefined, 'cpu'), 'serving.framework'],
    ['an unknown version', () => resolveDlcImage(DlcFramework.PYTORCH, '9.9.9', 'gpu'), 'serving.frameworkVersion'],
    ['a processor without an image', () => resolveDlcImage(DlcFramework.SKLEARN, '1.2-1', 'gpu'), 'compute'],
    ['a region without the image', () => dlcImageUri(resolveDlcImage(DlcFramework.PYTORCH, '2.3.0', 'gpu'), 'xx-nowhere-1'), 'stack.region'],
  ])('%s', (_label, fn, field) => {
    const e = refusal(fn);
    expect(e.field).toBe(field);
    expect(e.target).toBe('sageMaker');
  });
});
