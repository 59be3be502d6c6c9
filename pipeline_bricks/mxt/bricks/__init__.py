"""The MXT bricks: thin classes over the pure science modules of ``pipeline_bricks.mxt``.

Each module registers its brick when imported (``pipeline_bricks.registry.BRICKS``). This
package imports none of them, so that running one brick imports only its own module
(:func:`pipeline_bricks.registry.bricks`): mxt-calibrate loads neither scipy nor matplotlib.
"""
