/** Figures: line charts with bands, markers, linear/log axes and a legend, as SVG and PNG. */
export { renderSvg, type Axis, type Figure, type MarkerShape, type Panel, type Series } from './chart';
export { palette, seriesStyle } from './palette';
export { renderPng, type PngOptions } from './png';
export { decodePng, summarizeImage, type DecodedPng, type ImageSummary } from './png-decode';
export { makeScale, type AxisLimits, type Scale, type ScaleType } from './scale';
export { linearTicks, logTicks, powerOfTen, type Ticks } from './ticks';
export { textWidth } from './text';
export { figureFormat, writeFigure, type FigureFormat } from './write';
