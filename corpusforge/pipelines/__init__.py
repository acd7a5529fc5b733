"""Beam pipelines (see DESIGN.md). Importing the package adjusts the Beam harness its steps run in
(`harness.release_finished_output_streams`): workers import it when they unpickle any of our steps."""
from corpusforge.pipelines.harness import release_finished_output_streams

release_finished_output_streams()
