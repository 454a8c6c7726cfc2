/** The Vertex AI target's name: in its factory, its errors and `targetName` (the one definition). */
export const TARGET = 'vertexAi';
