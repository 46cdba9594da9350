"""``fastbuild prepare``: reference tables from a genome and an annotation."""

from __future__ import annotations

from fastbuild.commands.options import add_verbose
from fastbuild.specs import ANNOTATION_FORMATS


def add_parser(sub) -> None:
    p = sub.add_parser(
        "prepare", help="turn a FASTA + GTF/GFF3/SpliceAI table into reference tables",
        description="Parse the annotation (GTF, GFF3 or SpliceAI's annotation table), reconcile "
                    "contig names with the FASTA, and write genes, transcripts, exons, introns and "
                    "splice sites as Parquet tables; prints counts and a GT/AG sanity line.",
    )
    p.add_argument("--fasta", required=True,
                   help="genome FASTA: plain, bgzip or gzip (gzip is decompressed once per machine into the "
                        "cache, see --cache-dir; bgzip is read in place)")
    p.add_argument("--gtf", "--annotation", dest="annotation", required=True,
                   help="annotation: GTF, GFF3 or SpliceAI table "
                        "(#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END), optionally gzipped")
    p.add_argument("--out", required=True, help="output folder for the reference tables")
    p.add_argument("--annotation-format", choices=ANNOTATION_FORMATS, default="auto",
                   help="annotation format (default: guessed from the file name and content)")
    p.add_argument("--chrom-alias", metavar="FILE",
                   help="two-column file mapping annotation contig names to FASTA names "
                        "(chr1/1 and chrM/MT match without it)")
    p.add_argument("--tsv", action="store_true",
                   help="also write the reference implementation's gene_features.tsv and splice_sites.tsv")
    p.add_argument("--skip-malformed", action="store_true",
                   help="count, report and skip malformed annotation lines instead of stopping at the first")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="folder for the decompressed copy of a gzip FASTA (one per distinct file, as large as "
                        "the genome) and for indexes that cannot go beside the FASTA (default: the user cache, "
                        "$FASTBUILD_CACHE_DIR/fasta or ~/.cache/fastbuild/fasta, shared by every command and "
                        "output folder; bgzip the FASTA with 'bgzip genome.fa' and it is never decompressed)")
    add_verbose(p)
    p.set_defaults(func=run_prepare)


def run_prepare(args) -> int:
    from fastbuild.prepare import PrepareConfig, format_summary, prepare

    summary = prepare(PrepareConfig(
        fasta=args.fasta, annotation=args.annotation, out=args.out,
        annotation_format=args.annotation_format, chrom_alias=args.chrom_alias, tsv=args.tsv,
        skip_malformed=args.skip_malformed, cache_dir=args.cache_dir,
    ))
    print(format_summary(summary))
    print(f"reference tables written to {args.out}")
    return 0
