/** The unit of a pretraining corpus. */

/** One document: an id unique within the corpus and its sentences (natural text, case kept). */
export interface Document {
  id: string;
  sentences: string[];
  /** The corpus source the document came from: 'brown', 'sotu', 'wordnet' or a path. */
  source?: string;
  /** The Brown corpus genre (news, fiction, …) or the WordNet part of speech (noun, verb, adj, adv), when known. */
  genre?: string;
}
