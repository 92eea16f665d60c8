/**
 * The schedules of Figure 1 of the SGDR paper (Loshchilov & Hutter, ICLR 2017), over 200 epochs:
 * the default step schedules of Wide ResNets (Zagoruyko & Komodakis 2016: ×0.2 at epochs 60, 120
 * and 160, from 0.1 and from 0.05) and warm restarts from eta_max = 0.05 to eta_min = 0 with
 * T_0 = 50, 100, 200 (T_mult = 1) and T_0 = 1, 10 (T_mult = 2).
 */
import type { ScheduleSpec } from './spec';

export const FIGURE1_EPOCHS = 200;
export const FIGURE1_TITLE = 'SGDR learning-rate schedules (Loshchilov & Hutter 2017, Figure 1)';

const defaultStep = (lr: number): ScheduleSpec => ({
  type: 'multistep',
  lr,
  milestones: [60, 120, 160],
  gamma: 0.2,
  label: `Default, lr=${lr} (×0.2 at 60, 120, 160)`,
});

const sgdr = (t0: number, tMult: number): ScheduleSpec => ({
  type: 'warm-restarts',
  lr: 0.05,
  t0,
  tMult,
  etaMin: 0,
  label: `SGDR T0=${t0}, Tmult=${tMult}`,
});

export const FIGURE1_SPECS: readonly ScheduleSpec[] = [
  defaultStep(0.1),
  defaultStep(0.05),
  sgdr(50, 1),
  sgdr(100, 1),
  sgdr(200, 1),
  sgdr(1, 2),
  sgdr(10, 2),
];
