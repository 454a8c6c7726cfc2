#!/usr/bin/env node
// The app that `cdktf synth` runs (cdktf.json) and `npm run synth` runs directly: Terraform JSON
// for the Terraform targets, written to cdktf.out/.
import { App } from 'cdktf';
import { onPremGpu } from '../examples/on-prem';

const app = new App({ outdir: 'cdktf.out' });
onPremGpu(app);
app.synth();
