"""The yearly evaluation report of seed 003 (BAB VII): tujuan, sasaran, ruang lingkup,
waktu, pelaksana, periode, hasil evaluasi, saran perbaikan. Filled from the data where
the data can say it; labelled blanks where a person must write."""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select

from storage.models import Officer
from storage.reporting import figures

BLANK = "[diisi oleh penanggung jawab]"


def write(runtime, year: int, path: str) -> None:
    cal = runtime.calendar
    start = datetime.combine(date(year, 1, 1), time.min, cal.tz)
    end = datetime.combine(date(year + 1, 1, 1), time.min, cal.tz)
    wf, office = runtime.workflow, runtime.settings.office
    with runtime.sessions() as s:
        f = figures(s, wf, cal, start, end)
        officers = s.scalar(select(func.count()).select_from(Officer).where(Officer.active.is_(True)))
    sla_lines = []
    for stage, (met, missed, overdue) in f.sla.items():
        total = met + missed + overdue
        if total:
            name = wf.states[stage].label_id if stage in wf.states else stage
            sla_lines.append(f"   - {name}: {100 * met / total:.1f}% tepat waktu ({met} dari {total})")
    rate = f"{100 * f.follow_up_rate:.1f}%" if f.follow_up_rate is not None else "-"
    ikm = f"{f.ikm.score} ({f.ikm.grade}, {f.ikm.quality}; {f.ikm.respondents} responden)" if f.ikm.score else \
        "belum ada data survei"
    categories = ", ".join(c.label_id for c in runtime.cases.categories) or "semua pengaduan"
    text = f"""LAPORAN HASIL EVALUASI KINERJA PENYELENGGARAAN PELAYANAN
{office.name} — Tahun {year}

a. Tujuan
   {BLANK}

b. Sasaran
   {BLANK}

c. Ruang lingkup
   Pengelolaan pengaduan, saran dan masukan ({wf.workflow.label_id}); layanan: {categories}.

d. Waktu
   Disusun {datetime.now(cal.tz):%d-%m-%Y}.

e. Pelaksana
   {office.name}; {officers} petugas terdaftar. {BLANK}

f. Periode
   1 Januari {year} s.d. 31 Desember {year}.

g. Hasil evaluasi
   - Jumlah pengaduan: {f.total} (pengaduan {f.by_kind.get('pengaduan', 0)}, aspirasi {f.by_kind.get('aspirasi', 0)}, permintaan informasi {f.by_kind.get('permintaan_informasi', 0)})
   - Persentase tindak lanjut: {rate}
   - Rata-rata lama tindak lanjut: {f"{f.avg_follow_up_days:.1f} hari kerja" if f.avg_follow_up_days is not None else "-"}
   - Kepatuhan waktu per tahap:
{chr(10).join(sla_lines) or "   - belum ada data"}
   - Eskalasi: {f.escalations}
   - Penilaian pelapor: {f.ratings} (selesai {f.solved}; rata-rata {f"{f.avg_score:.2f}" if f.avg_score is not None else "-"} dari 5)
   - Indeks Kepuasan Masyarakat: {ikm}
   {BLANK}

h. Saran perbaikan
   {BLANK}
"""
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
