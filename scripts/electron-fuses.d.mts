import type { FuseV1Config } from '@electron/fuses';
export declare const STUDIO_FUSES: FuseV1Config & { strictlyRequireAllFuses: true };
export declare function electronBinary(
  appOutDir: string,
  platform: string,
  productFilename: string,
  executableName?: string,
): string;
