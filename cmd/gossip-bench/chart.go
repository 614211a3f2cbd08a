package main

import (
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The chart is drawn with gonum.org/v1/plot: axes, ticks, lines, markers
// and a legend rendered to PNG are far more than a hand-written encoder
// would be worth, and the library is used only by this command.

// writeChart draws convergence and failure-detection time against N for
// both sides and saves it as a PNG.
func writeChart(path string, series map[string][]point) error {
	p := plot.New()
	p.Title.Text = "Convergence after joins and failure detection (LAN profile)"
	p.X.Label.Text = "cluster size N"
	p.Y.Label.Text = "seconds (median)"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	styles := map[string]struct {
		c    color.RGBA
		dash bool
	}{
		"convergence ours":             {color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, false},
		"convergence memberlist":       {color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, true},
		"failure detection ours":       {color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, false},
		"failure detection memberlist": {color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, true},
	}
	names := make([]string, 0, len(series))
	for name := range series {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		pts := series[name]
		xys := make(plotter.XYs, len(pts))
		for i, pt := range pts {
			xys[i].X, xys[i].Y = pt.n, pt.v
		}
		line, dots, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		st := styles[name]
		line.Color, dots.Color = st.c, st.c
		line.Width = vg.Points(1.5)
		if st.dash {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line, dots)
		p.Legend.Add(name, line, dots)
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
