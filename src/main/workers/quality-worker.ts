import { StudioError } from '../../shared/errors';
import {
  compareImages,
  decodePng,
  diffHeatmap,
  inspectImage,
  type ImageInspection,
  type QualityMetrics,
} from '../bench/quality';
import { isShapesPrompt, shapeAdherence } from '../bench/adherence';
import { parentChannel } from './parent-channel';

/**
 * The image-quality worker: PNG decoding, SSIM, PSNR, difference heatmaps (about a second per
 * case at 512x512) and prompt adherence run here, never in the process that holds the window or
 * the database. Requests are answered one at a time, in order.
 */
export type ToQuality =
  | { type: 'judge'; id: number; png: Uint8Array; reference?: Uint8Array; prompt?: string }
  | { type: 'compare'; id: number; baseline: Uint8Array; candidate: Uint8Array };

/** One image against its prompt (bench/adherence.ts): checks asked, checks passed, all passed. */
export interface CaseAdherence {
  checks: number;
  passed: number;
  all: boolean;
}

export interface JudgeAnswer {
  inspection: ImageInspection;
  /** Against the reference, when one was given. */
  metrics: QualityMetrics | null;
  heatmap: Uint8Array | null;
  /**
   * Against the prompt, when one was given and the shapes vocabulary understands it (a prompt
   * that names no shape, or a broken image: null).
   */
  adherence: CaseAdherence | null;
}

export type FromQuality =
  | { type: 'judged'; id: number; answer: JudgeAnswer }
  | { type: 'compared'; id: number; metrics: QualityMetrics }
  | { type: 'error'; id: number; message: string; code: StudioError['code'] };

const parent = parentChannel();

function answer(message: ToQuality): FromQuality {
  try {
    if (message.type === 'compare') {
      return {
        type: 'compared',
        id: message.id,
        metrics: compareImages(message.baseline, message.candidate),
      };
    }
    // Decode once; the three measures share the pixels.
    const image = decodePng(message.png, 'candidate image');
    const inspection = inspectImage(image);
    if (inspection.problem) {
      return {
        type: 'judged',
        id: message.id,
        answer: { inspection, metrics: null, heatmap: null, adherence: null },
      };
    }
    const understood =
      message.prompt && isShapesPrompt(message.prompt)
        ? shapeAdherence(message.prompt, image)
        : undefined;
    const adherence = understood
      ? { checks: understood.checks, passed: understood.passed, all: understood.all }
      : null;
    if (!message.reference) {
      return {
        type: 'judged',
        id: message.id,
        answer: { inspection, metrics: null, heatmap: null, adherence },
      };
    }
    const reference = decodePng(message.reference, 'baseline image');
    return {
      type: 'judged',
      id: message.id,
      answer: {
        inspection,
        metrics: compareImages(reference, image),
        heatmap: diffHeatmap(reference, image),
        adherence,
      },
    };
  } catch (e) {
    return {
      type: 'error',
      id: message.id,
      message: e instanceof Error ? e.message : String(e),
      code: e instanceof StudioError ? e.code : 'failed',
    };
  }
}

parent.onMessage((raw) => {
  void parent.send(answer(raw as ToQuality));
});
parent.onParentGone(() => process.exit(0));
