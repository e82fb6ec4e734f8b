import type { ExportedFile } from '../../../shared/bench-schemas';

/** Saves a file the studio produced through the browser's download (works in Electron too). */
export function download(file: ExportedFile): void {
  const url = URL.createObjectURL(new Blob([file.content], { type: file.mimeType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = file.filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
