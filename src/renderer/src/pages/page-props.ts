/** Every page stays mounted; `active` says whether it is the one shown (to refresh data on show). */
export interface PageProps {
  active: boolean;
}
